"""The random-weight test models of scripts/make_tiny_gguf.py, checked through real llama.cpp."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
pytest.importorskip("gguf", reason="the gguf package is needed to write test models")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_tiny_gguf.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("make_tiny_gguf", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_tiny_gguf", mod)
    spec.loader.exec_module(mod)
    return mod


mtg = _load_script()

TEXTS = [
    "Hello world, the answer is 42.",
    '{"variants": ["a", "b\\n", "c"]}\n',
    "你好，世界",
    "列出城市数据：北京、上海。",
    "mixed 中文 and English\ttabs  and   spaces\n\n",
    "émoji 🙂 and ümlauts",
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "tiny.gguf"
    t0 = time.perf_counter()
    mtg.write_tiny_gguf(path)
    print(f"\ntiny GGUF written in {(time.perf_counter() - t0) * 1000:.1f} ms, {path.stat().st_size} bytes")
    return path


@pytest.fixture(scope="module")
def tiny_llm(tiny_model):
    llm = llama_cpp.Llama(model_path=str(tiny_model), n_ctx=512, verbose=False, seed=1)
    yield llm
    llm.close()


def test_small_and_deterministic(tiny_model, tmp_path):
    assert tiny_model.stat().st_size < 1_000_000
    again = mtg.write_tiny_gguf(tmp_path / "again.gguf")
    other = mtg.write_tiny_gguf(tmp_path / "other.gguf", seed=1)
    assert again.read_bytes() == tiny_model.read_bytes()
    assert other.read_bytes() != tiny_model.read_bytes()


@pytest.mark.parametrize("text", TEXTS)
def test_tokenize_roundtrip(tiny_llm, text):
    ids = tiny_llm.tokenize(text.encode(), add_bos=False, special=False)
    assert ids and all(0 <= i < tiny_llm.n_vocab() for i in ids)
    assert tiny_llm.detokenize(ids).decode("utf-8") == text


def test_merges_are_used(tiny_llm):
    # " the" and '{"' are single tokens of the default vocabulary, so BPE merging works.
    assert len(tiny_llm.tokenize(b" the", add_bos=False)) == 1
    assert len(tiny_llm.tokenize(b'{"', add_bos=False)) == 1


def test_chatml_specials_are_control_tokens(tiny_llm):
    text = "<|im_start|>user\nhi<|im_end|>\n"
    ids = tiny_llm.tokenize(text.encode(), add_bos=False, special=True)
    im_start, im_end = ids[0], ids[-2]
    assert tiny_llm.detokenize([im_start], special=True) == b"<|im_start|>"
    assert tiny_llm.token_eos() == im_end
    vocab = tiny_llm._model.vocab
    for tok in (im_start, im_end):
        assert llama_cpp.llama_vocab_get_attr(vocab, tok) & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
        assert llama_cpp.llama_vocab_is_control(vocab, tok)
    assert llama_cpp.llama_vocab_is_eog(vocab, im_end)
    # Without special parsing the markers are plain text, as for user data.
    assert len(tiny_llm.tokenize(b"<|im_start|>", add_bos=False, special=False)) > 1
    # Control tokens render as nothing unless asked for.
    assert tiny_llm.detokenize([im_start]) == b""


def test_metadata_has_chat_template(tiny_llm):
    md = tiny_llm.metadata
    assert md["tokenizer.chat_template"] == mtg.QWEN25_CHAT_TEMPLATE
    assert md["general.architecture"] == "qwen2"
    assert md["tokenizer.ggml.pre"] == "qwen2"


def test_chat_template_renders_chatml(tiny_llm):
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    fmt = Jinja2ChatFormatter(template=tiny_llm.metadata["tokenizer.chat_template"],
                              eos_token="<|im_end|>", bos_token="<|endoftext|>")
    res = fmt(messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert res.prompt == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"


def test_generates_tokens(tiny_llm):
    out = tiny_llm.create_completion("Hello", max_tokens=6, temperature=0.8, seed=3)
    assert out["usage"]["completion_tokens"] >= 1
    assert isinstance(out["choices"][0]["text"], str)


def test_cli_writes_model(tmp_path):
    out = tmp_path / "cli.gguf"
    res = subprocess.run([sys.executable, str(SCRIPT), str(out), "--seed", "2", "--layers", "1", "--hidden", "32"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    llm = llama_cpp.Llama(model_path=str(out), n_ctx=128, verbose=False)
    try:
        assert llm.metadata["qwen2.block_count"] == "1"
        assert llm.metadata["qwen2.embedding_length"] == "32"
    finally:
        llm.close()


# --- Qwen2's real 151,936-token vocabulary (only when it has been fetched) ---------------------

QWEN2_VOCAB = mtg.cached_qwen2_vocab()
needs_qwen2_vocab = pytest.mark.skipif(
    QWEN2_VOCAB is None,
    reason=f"Qwen2 vocab not cached at {mtg.cache_dir() / mtg.VOCAB_NAME}; "
           "run `python scripts/make_tiny_gguf.py --fetch-qwen2-vocab` (downloads the llama-cpp-python sdist once)",
)


@pytest.fixture(scope="module")
def qwen2_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("qwen2") / "qwen2-vocab-tiny.gguf"
    t0 = time.perf_counter()
    mtg.write_tiny_gguf(path, vocab_from=QWEN2_VOCAB)
    print(f"\nqwen2-vocab GGUF written in {(time.perf_counter() - t0) * 1000:.0f} ms, "
          f"{path.stat().st_size / 1e6:.1f} MB")
    return path


@pytest.fixture(scope="module")
def qwen2_pair(qwen2_model):
    """(random-weight model with the real vocab, vocab-only reference from the original file)."""
    llm = llama_cpp.Llama(model_path=str(qwen2_model), n_ctx=512, verbose=False, seed=1)
    ref = llama_cpp.Llama(model_path=str(QWEN2_VOCAB), vocab_only=True, verbose=False)
    yield llm, ref
    llm.close()
    ref.close()


@needs_qwen2_vocab
def test_qwen2_vocab_tokenizes_like_qwen(qwen2_pair):
    llm, ref = qwen2_pair
    assert llm.n_vocab() == 151_936
    ids = llm.tokenize("你好，世界".encode(), add_bos=False)
    assert ids == ref.tokenize("你好，世界".encode(), add_bos=False)
    assert ids == [108386, 3837, 99489]  # 你好 ， 世界 in Qwen2/2.5
    for text in TEXTS:
        ids = llm.tokenize(text.encode(), add_bos=False)
        assert ids == ref.tokenize(text.encode(), add_bos=False)
        assert llm.detokenize(ids).decode() == text


@needs_qwen2_vocab
def test_qwen2_vocab_matches_llama_cpp_reference_ids(qwen2_pair):
    """llama.cpp's own tokenizer test data (ids from the HF tokenizer), cached beside the vocab."""
    inp, out = (QWEN2_VOCAB.with_name(QWEN2_VOCAB.name + s) for s in (".inp", ".out"))
    if not (inp.is_file() and out.is_file()):
        pytest.skip("llama.cpp tokenizer test data not cached beside the vocab file")
    llm, _ = qwen2_pair
    texts = inp.read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")
    expected = out.read_text(encoding="utf-8").split("\n")
    cases = [(t, [int(x) for x in e.split()]) for t, e in zip(texts, expected) if t]
    assert len(cases) > 30
    for text, ids in cases:
        assert llm.tokenize(text.encode(), add_bos=False, special=False) == ids, text


@needs_qwen2_vocab
def test_qwen2_vocab_has_qwen25_specials_and_template(qwen2_pair):
    llm, _ = qwen2_pair
    assert llm.metadata["tokenizer.chat_template"] == mtg.QWEN25_CHAT_TEMPLATE
    assert llm.token_eos() == 151645
    ids = llm.tokenize(b"<|im_start|>assistant\n<tool_call>", add_bos=False, special=True)
    assert ids == [151644, 77091, 198, 151657]
    out = llm.create_completion("你好", max_tokens=4, temperature=0.8, seed=3)
    assert out["usage"]["completion_tokens"] >= 1
