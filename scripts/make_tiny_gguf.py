#!/usr/bin/env python3
"""Write a random-weight Qwen2-architecture GGUF for tests and benchmarks.

The weights are noise, so the model's answers are noise too: under a grammar that makes it a
fuzzer for the constrained-JSON path, and it exercises the real llama.cpp loader, tokenizer,
chat template and decode loop without downloading a model.

Two vocabularies:
- default: a byte-level BPE of our own (256 GPT-2 byte tokens, a few hundred merges built from a
  fixed word list, ChatML control tokens). The file is ~0.3 MB and builds in milliseconds.
- ``vocab_from``: the tokenizer of a vocab-only GGUF, e.g. llama.cpp's ``models/ggml-vocab-qwen2.gguf``
  (151,936 tokens), which ships inside the llama-cpp-python sdist (see ``fetch_qwen2_vocab``).
  That file carries the Qwen1.5-era special tokens and chat template; ``qwen25=True`` overlays
  Qwen2.5's added tokens, EOS and chat template, so the model tokenizes and templates as
  Qwen2.5-Instruct's GGUF does (the BPE vocabulary and merges are the same).

Usage:
    python scripts/make_tiny_gguf.py OUT.gguf [--vocab-from F | --qwen2-vocab] [--seed N]
                                              [--layers N] [--hidden N]
    python scripts/make_tiny_gguf.py --fetch-qwen2-vocab
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

try:
    import gguf
except ImportError:  # pragma: no cover - reported by main()/callers
    gguf = None

ARCH = "qwen2"

# Qwen2.5-7B-Instruct's chat template, verbatim from llama.cpp's
# models/templates/Qwen-Qwen2.5-7B-Instruct.jinja (same as the HF tokenizer_config.json).
QWEN25_CHAT_TEMPLATE = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""  # noqa: E501

# Qwen2.5's added tokens from id 151643 on: (text, is_control). The non-control ones are
# "special": false in tokenizer_config.json and become USER_DEFINED in converted GGUFs.
QWEN25_ADDED_TOKENS = [
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
    ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True),
    ("<|box_end|>", True), ("<|quad_start|>", True), ("<|quad_end|>", True),
    ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False),
    ("</tool_call>", False), ("<|fim_prefix|>", False), ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False), ("<|fim_pad|>", False), ("<|repo_name|>", False),
    ("<|file_sep|>", False),
]
QWEN25_FIRST_ADDED_ID = 151643

CHATML_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Words whose left-to-right merges make the default vocabulary. Ordered: earlier merges rank
# higher. Leading spaces follow the qwen2 pre-tokenizer (" word" is one pre-token; punctuation
# runs like '{"' or '":' are one pre-token; digits are always single).
_MERGE_WORDS = (
    # JSON scaffolding
    '{"', '":', '",', ' "', '"}', '"]', '["', '}', ' {', ' [', '},', '],', ': "', '\n', '\n\n', '  ', '    ',
    ' null', ' true', ' false', 'null', 'true', 'false',
    # common English
    ' the', ' of', ' and', ' to', ' in', ' is', ' a', ' that', ' for', ' it', ' as', ' with', ' was',
    ' on', ' be', ' by', ' this', ' are', ' or', ' from', ' at', ' an', ' not', ' have', ' you',
    ' can', ' will', ' which', ' one', ' all', ' their', ' has', ' more', ' were', ' we', ' they',
    ' what', ' how', ' when', ' write', ' answer', ' question', ' text', ' output', ' input',
    ' instruction', ' rewrite', ' translate', ' variant', ' variants', ' example', ' data', ' list',
    ' number', ' name', ' user', ' assistant', ' system', ' hello', ' world', ' please', ' json',
    'the', 'ing', 'ion', 'tion', 'ed', 'er', 'es', 'en', 'an', 'on', 're', 'at', 'or', 'al', 'st',
    'The', 'This', 'What', 'How', 'Hello', 'variants', 'text', 'name', 'user', 'assistant', 'system',
    # Chinese (each character is a 3-byte merge chain)
    '的', '是', '不', '了', '在', '人', '有', '我', '他', '这', '个', '们', '中', '来', '上', '大',
    '为', '和', '国', '地', '到', '以', '说', '时', '要', '就', '出', '会', '你', '好', '世', '界',
    '请', '问', '题', '答', '案', '文', '本', '数', '据', '，', '。', '：', '、',
    '你好', '世界', '问题', '答案', '数据', '中国',
)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (as in tokenizers' ByteLevel)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _default_vocab() -> tuple[list[str], list[int], list[str]]:
    """Byte tokens (GPT-2 order), merge results, then ChatML control tokens."""
    b2u = bytes_to_unicode()
    tokens = list(b2u.values())
    seen = set(tokens)
    merges: list[str] = []
    for word in _MERGE_WORDS:
        chars = [b2u[b] for b in word.encode("utf-8")]
        cur = chars[0]
        for c in chars[1:]:
            nxt = cur + c
            if nxt not in seen:
                seen.add(nxt)
                tokens.append(nxt)
                merges.append(f"{cur} {c}")
            cur = nxt
    types = [int(gguf.TokenType.NORMAL)] * len(tokens)
    tokens += CHATML_SPECIALS
    types += [int(gguf.TokenType.CONTROL)] * len(CHATML_SPECIALS)
    return tokens, types, merges


_SCALAR_FMT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_NP_DTYPE = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1", 10: "<u8", 11: "<i8",
             12: "<f8"}


def read_gguf_kv(path: str | os.PathLike) -> dict:
    """The key/value section of a GGUF file (tensors are not read).

    ~20x faster than ``gguf.GGUFReader`` on a 152k-token vocabulary (which builds one numpy
    view per string): strings come back as ``str`` (``bytes`` inside arrays), numeric arrays as numpy.
    """
    import struct
    data = Path(path).read_bytes()
    if data[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    version, _n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    if version < 2:
        raise ValueError(f"{path}: GGUF v{version} is not supported")
    off = 24
    unpack = struct.unpack_from

    def read_str(off):
        (n,) = unpack("<Q", data, off)
        return data[off + 8: off + 8 + n], off + 8 + n

    def read_val(vtype, off):
        if vtype == 8:
            b, off = read_str(off)
            return b.decode("utf-8", errors="surrogateescape"), off
        if vtype == 9:
            etype, count = unpack("<IQ", data, off)
            off += 12
            if etype == 8:
                out = []
                append = out.append
                for _ in range(count):
                    (n,) = unpack("<Q", data, off)
                    append(data[off + 8: off + 8 + n])
                    off += 8 + n
                return out, off
            if etype in _NP_DTYPE:
                arr = np.frombuffer(data, dtype=_NP_DTYPE[etype], count=count, offset=off)
                return arr, off + arr.nbytes
            raise ValueError(f"{path}: unsupported array element type {etype}")
        fmt = _SCALAR_FMT[vtype]
        return unpack(fmt, data, off)[0], off + struct.calcsize(fmt)

    kv = {}
    for _ in range(n_kv):
        key, off = read_str(off)
        (vtype,) = unpack("<I", data, off)
        kv[key.decode()], off = read_val(vtype, off + 4)
    return kv


def read_vocab(path: str | os.PathLike) -> dict:
    """Tokenizer metadata of a GGUF: tokens, types, merges, special ids, pre, chat template."""
    kv = read_gguf_kv(path)
    if kv.get("tokenizer.ggml.model") != "gpt2":
        raise ValueError(f"{path}: tokenizer.ggml.model is {kv.get('tokenizer.ggml.model')!r}, "
                         "expected 'gpt2' (byte-level BPE)")
    return {
        "tokens": kv["tokenizer.ggml.tokens"],
        "types": [int(t) for t in kv["tokenizer.ggml.token_type"]],
        "merges": kv.get("tokenizer.ggml.merges", []),
        "pre": kv.get("tokenizer.ggml.pre", "default"),
        "bos": kv.get("tokenizer.ggml.bos_token_id"),
        "eos": kv.get("tokenizer.ggml.eos_token_id"),
        "pad": kv.get("tokenizer.ggml.padding_token_id"),
        "add_bos": kv.get("tokenizer.ggml.add_bos_token"),
        "chat_template": kv.get("tokenizer.chat_template"),
    }


def apply_qwen25_overlay(vocab: dict) -> dict:
    """Make a Qwen2-family vocab look like Qwen2.5-Instruct's: added tokens, EOS, chat template."""
    tokens = list(vocab["tokens"])
    types = list(vocab["types"])
    if (len(tokens) < QWEN25_FIRST_ADDED_ID + len(QWEN25_ADDED_TOKENS)
            or tokens[QWEN25_FIRST_ADDED_ID] != b"<|endoftext|>"):
        raise ValueError("not a Qwen2 vocabulary (no <|endoftext|> at id 151643)")
    for i, (text, control) in enumerate(QWEN25_ADDED_TOKENS):
        tokens[QWEN25_FIRST_ADDED_ID + i] = text.encode()
        types[QWEN25_FIRST_ADDED_ID + i] = int(gguf.TokenType.CONTROL if control else gguf.TokenType.USER_DEFINED)
    return {**vocab, "tokens": tokens, "types": types, "bos": 151643, "eos": 151645, "pad": 151643,
            "add_bos": False, "chat_template": QWEN25_CHAT_TEMPLATE}


def write_tiny_gguf(
    path: str | os.PathLike,
    *,
    seed: int = 0,
    vocab_from: str | os.PathLike | None = None,
    qwen25: bool | None = None,
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 4,
    n_head_kv: int = 2,
    n_ff: int = 128,
    n_ctx: int = 4096,
    f16: bool = True,
    name: str = "qaug-tiny-qwen2",
) -> Path:
    """Write the model and return its path. Same arguments, same bytes.

    ``qwen25`` (default: on when ``vocab_from`` is given) overlays Qwen2.5's added tokens, EOS
    and chat template on a Qwen2 vocabulary; the default vocabulary always gets the Qwen2.5 template.
    """
    if gguf is None:
        raise RuntimeError("the 'gguf' package is required: pip install gguf")
    if n_embd % n_head or n_head % n_head_kv:
        raise ValueError("n_embd must be divisible by n_head, and n_head by n_head_kv")
    head_dim = n_embd // n_head
    if head_dim % 2:
        raise ValueError("head dimension must be even (RoPE)")

    if vocab_from is None:
        tokens, types, merges = _default_vocab()
        specials = {t: i for i, t in enumerate(tokens) if t in CHATML_SPECIALS}
        vocab = {"tokens": tokens, "types": types, "merges": merges, "pre": "qwen2",
                 "bos": specials["<|endoftext|>"], "eos": specials["<|im_end|>"], "pad": specials["<|endoftext|>"],
                 "add_bos": False, "chat_template": QWEN25_CHAT_TEMPLATE}
    else:
        vocab = read_vocab(vocab_from)
        if qwen25 is None or qwen25:
            vocab = apply_qwen25_overlay(vocab)
    n_vocab = len(vocab["tokens"])

    rng = np.random.default_rng(seed)
    wtype = np.float16 if f16 else np.float32

    def mat(rows: int, cols: int) -> np.ndarray:
        # numpy (rows, cols) is ggml ne = {cols, rows}: llama.cpp's {n_in, n_out}.
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(wtype)

    def vec(n: int, scale: float = 0.0, base: float = 0.0) -> np.ndarray:
        return (base + rng.standard_normal(n, dtype=np.float32) * scale).astype(np.float32)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(path, ARCH)
    w.add_name(name)
    add_qwen2_hparams(w, f16=f16, n_layer=n_layer, n_ctx=n_ctx, n_embd=n_embd, n_ff=n_ff, n_head=n_head,
                      n_head_kv=n_head_kv)
    add_tokenizer(w, vocab)
    # Tied embeddings: no output.weight, llama.cpp reuses token_embd (as Qwen2.5 <= 3B do).
    w.add_tensor("token_embd.weight", mat(n_vocab, n_embd))
    w.add_tensor("output_norm.weight", vec(n_embd, base=1.0))
    add_qwen2_blocks(w, mat, norm=lambda n: vec(n, base=1.0), bias=lambda n: vec(n, scale=0.02), n_layer=n_layer,
                     n_embd=n_embd, n_kv=head_dim * n_head_kv, n_ff=n_ff)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def add_qwen2_hparams(w: "gguf.GGUFWriter", *, f16: bool, n_layer: int, n_ctx: int, n_embd: int, n_ff: int,
                      n_head: int, n_head_kv: int) -> None:
    """The Qwen2 hyperparameters llama.cpp reads (shared with make_7b_shape_gguf.py)."""
    w.add_file_type(int(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32))
    w.add_block_count(n_layer)
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_rope_freq_base(1_000_000.0)
    w.add_layer_norm_rms_eps(1e-6)


def add_tokenizer(w: "gguf.GGUFWriter", vocab: dict, tokens: list | None = None, types: list | None = None) -> None:
    """A vocab dict (read_vocab / apply_qwen25_overlay) as GGUF tokenizer keys; `tokens`/`types` replace its lists
    (a model whose embedding has more rows than the tokenizer has tokens)."""
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(vocab["pre"])
    w.add_token_list(vocab["tokens"] if tokens is None else tokens)
    w.add_token_types(vocab["types"] if types is None else types)
    if vocab["merges"]:
        w.add_token_merges(vocab["merges"])
    for key, add in (("bos", w.add_bos_token_id), ("eos", w.add_eos_token_id), ("pad", w.add_pad_token_id)):
        if vocab[key] is not None:
            add(int(vocab[key]))
    if vocab["add_bos"] is not None:
        w.add_add_bos_token(bool(vocab["add_bos"]))
    if vocab["chat_template"]:
        w.add_chat_template(vocab["chat_template"])


def add_qwen2_blocks(w: "gguf.GGUFWriter", mat: Callable[[int, int], np.ndarray], *, norm: Callable[[int], np.ndarray],
                     bias: Callable[[int], np.ndarray], n_layer: int, n_embd: int, n_kv: int, n_ff: int) -> None:
    """The transformer blocks' tensors, made by `mat` (rows, cols), `norm` and `bias` (length)."""
    for i in range(n_layer):
        b = f"blk.{i}."
        w.add_tensor(b + "attn_norm.weight", norm(n_embd))
        w.add_tensor(b + "attn_q.weight", mat(n_embd, n_embd))
        w.add_tensor(b + "attn_q.bias", bias(n_embd))
        w.add_tensor(b + "attn_k.weight", mat(n_kv, n_embd))
        w.add_tensor(b + "attn_k.bias", bias(n_kv))
        w.add_tensor(b + "attn_v.weight", mat(n_kv, n_embd))
        w.add_tensor(b + "attn_v.bias", bias(n_kv))
        w.add_tensor(b + "attn_output.weight", mat(n_embd, n_embd))
        w.add_tensor(b + "ffn_norm.weight", norm(n_embd))
        w.add_tensor(b + "ffn_gate.weight", mat(n_ff, n_embd))
        w.add_tensor(b + "ffn_up.weight", mat(n_ff, n_embd))
        w.add_tensor(b + "ffn_down.weight", mat(n_embd, n_ff))


# ---------------------------------------------------------------------------------------------
# The Qwen2 vocab file, from the llama-cpp-python sdist on PyPI

VOCAB_MEMBER = "vendor/llama.cpp/models/ggml-vocab-qwen2.gguf"
VOCAB_NAME = "ggml-vocab-qwen2.gguf"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "qaug"


def cached_qwen2_vocab() -> Path | None:
    """The cached vocab file, or None (never downloads)."""
    p = cache_dir() / VOCAB_NAME
    return p if p.is_file() else None


def _llama_cpp_version() -> str:
    from importlib.metadata import version
    return version("llama_cpp_python")


def _is_sdist(path: Path, version: str) -> bool:
    try:
        with open(path, "rb") as fh:
            if fh.read(2) != b"\x1f\x8b":
                return False
        with tarfile.open(path, "r|gz") as tf:
            first = tf.next()
            return first is not None and first.name.split("/")[0] == f"llama_cpp_python-{version}"
    except (OSError, tarfile.TarError, EOFError):
        return False


def _sdist_in_pip_cache(version: str) -> Path | None:
    """An already downloaded sdist: a named tarball, or a body in pip's HTTP cache."""
    roots = [os.environ.get("PIP_CACHE_DIR"), os.path.join(os.path.expanduser("~"), ".cache", "pip")]
    if os.environ.get("XDG_CACHE_HOME"):
        roots.append(os.path.join(os.environ["XDG_CACHE_HOME"], "pip"))
    for root in filter(None, roots):
        root = Path(root)
        if not root.is_dir():
            continue
        for cand in root.rglob(f"llama_cpp_python-{version}.tar.gz"):
            if _is_sdist(cand, version):
                return cand
        # pip's http cache stores response bodies under opaque names; the sdist is ~70 MB.
        for cand in root.glob("http*/**/*"):
            if cand.is_file() and cand.stat().st_size > 10_000_000 and _is_sdist(cand, version):
                return cand
    return None


def _extract_members(sdist: Path, wanted: dict[str, Path]) -> None:
    """Stream the tarball once, writing each wanted member (suffix after the top dir) atomically."""
    with tarfile.open(sdist, "r|gz") as tf:
        for member in tf:
            rel = member.name.split("/", 1)[-1]
            if rel in wanted and member.isfile():
                dst = wanted.pop(rel)
                tmp = dst.with_suffix(dst.suffix + ".part")
                with tf.extractfile(member) as src, open(tmp, "wb") as out:
                    out.write(src.read())
                os.replace(tmp, dst)
                if not wanted:
                    return


def fetch_qwen2_vocab(*, quiet: bool = False) -> Path:
    """Return the cached ``ggml-vocab-qwen2.gguf``, getting it from the llama-cpp-python sdist once.

    Also caches llama.cpp's tokenizer test data beside it (``.inp``/``.out``: texts and the ids
    the HF Qwen2 tokenizer gives them).
    """
    dst = cache_dir() / VOCAB_NAME
    if dst.is_file():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    version = _llama_cpp_version()
    log = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    wanted = {VOCAB_MEMBER: dst, VOCAB_MEMBER + ".inp": dst.with_name(VOCAB_NAME + ".inp"),
              VOCAB_MEMBER + ".out": dst.with_name(VOCAB_NAME + ".out")}
    sdist = _sdist_in_pip_cache(version)
    if sdist is not None:
        log(f"using cached sdist {sdist}")
        _extract_members(sdist, wanted)
    else:
        with tempfile.TemporaryDirectory(prefix="qaug-sdist-") as tmp:
            log(f"downloading llama-cpp-python=={version} sdist from PyPI ...")
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   f"llama-cpp-python=={version}", "-d", tmp]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"pip download failed ({res.returncode}):\n{res.stderr[-2000:]}")
            found = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
            if not found:
                raise RuntimeError(f"pip download produced no sdist in {tmp}")
            _extract_members(found[0], wanted)
    if not dst.is_file():
        raise RuntimeError(f"{VOCAB_MEMBER} not found in the llama-cpp-python {version} sdist")
    return dst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", help="output .gguf path")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--vocab-from", metavar="GGUF", help="copy the tokenizer of this (vocab-only) GGUF")
    src.add_argument("--qwen2-vocab", action="store_true",
                     help="use Qwen2's 151,936-token vocabulary (fetched once from the llama-cpp-python sdist)")
    ap.add_argument("--fetch-qwen2-vocab", action="store_true",
                    help="fetch/cache the Qwen2 vocab file and print its path")
    ap.add_argument("--no-qwen25", action="store_true",
                    help="with --vocab-from/--qwen2-vocab: keep the source's specials and template as they are")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ff", type=int, default=None, help="feed-forward size (default 2*hidden)")
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--f32", action="store_true", help="f32 weights instead of f16")
    args = ap.parse_args(argv)

    if gguf is None:
        print("error: the 'gguf' package is required (pip install gguf)", file=sys.stderr)
        return 2
    vocab_from = args.vocab_from
    if args.fetch_qwen2_vocab or args.qwen2_vocab:
        try:
            vocab_path = fetch_qwen2_vocab()
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        if args.fetch_qwen2_vocab:
            print(vocab_path)
        if args.qwen2_vocab:
            vocab_from = vocab_path
    if args.out is None:
        if args.fetch_qwen2_vocab:
            return 0
        ap.error("OUT.gguf is required")
    t0 = time.perf_counter()
    out = write_tiny_gguf(args.out, seed=args.seed, vocab_from=vocab_from, qwen25=not args.no_qwen25,
                          n_layer=args.layers, n_embd=args.hidden, n_head=args.heads, n_head_kv=args.kv_heads,
                          n_ff=args.ff or 2 * args.hidden, n_ctx=args.ctx, f16=not args.f32)
    dt = time.perf_counter() - t0
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) in {dt * 1000:.0f} ms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
