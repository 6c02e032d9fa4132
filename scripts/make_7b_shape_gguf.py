#!/usr/bin/env python3
"""Write a random-weight GGUF with Qwen2.5-7B-Instruct's shapes and tokenizer, optionally quantised.

For timing the engine on a GPU without downloading a model: the same tensor shapes, vocabulary,
chat template and quantisation mix as Qwen2.5-7B-Instruct Q4_K_M, so llama.cpp does the same work
per token; the answers are noise (a grammar still makes them valid JSON).

Generating 7.6 billion normal samples would dominate the check's time budget, so the weights are
one 32 MB block of N(0, 0.02) values, tiled from a different offset for every tensor.

    python scripts/make_7b_shape_gguf.py OUT.gguf --vocab ggml-vocab-qwen2.gguf [--quantize Q4_K_M]
        [--layers 28] [--hidden 3584] [--heads 28] [--kv-heads 4] [--ff 18944] [--threads N]

With --quantize the F16 file is written next to OUT, quantised into OUT through llama-cpp-python's
`llama_model_quantize` binding, and deleted. The vocab is Qwen2's (scripts/pack_for_gpu.sh takes it out
of the llama-cpp-python sdist); its 151,936 tokens are padded to Qwen2.5-7B's 152,064 embedding rows.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
QWEN25_7B = {"n_layer": 28, "n_embd": 3584, "n_head": 28, "n_head_kv": 4, "n_ff": 18944, "n_vocab": 152064}
FTYPES = {"Q4_K_M": 15, "Q4_0": 2, "Q8_0": 7, "F16": 1}


def _tiny_module():
    spec = importlib.util.spec_from_file_location("make_tiny_gguf", ROOT / "scripts" / "make_tiny_gguf.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Weights:
    """Tensors cut from one random block: fast to make, different per tensor, never degenerate."""

    def __init__(self, seed: int, block: int = 1 << 24) -> None:
        rng = np.random.default_rng(seed)
        self.base = (rng.standard_normal(block, dtype=np.float32) * 0.02).astype(np.float16)
        self.offset = 0

    def mat(self, rows: int, cols: int) -> np.ndarray:
        n = rows * cols
        self.offset = (self.offset + 7919 * 64) % len(self.base)
        start = np.concatenate([self.base[self.offset:], self.base[:self.offset]]) if self.offset else self.base
        return np.resize(start, n).reshape(rows, cols)  # numpy (rows, cols) = ggml ne {cols, rows}

    @staticmethod
    def vec(n: int, base: float = 0.0) -> np.ndarray:
        return np.full(n, base, dtype=np.float32)


def write_7b_shape_gguf(path: str | os.PathLike, vocab_from: str | os.PathLike, *, seed: int = 0, n_layer: int = 28,
                        n_embd: int = 3584, n_head: int = 28, n_head_kv: int = 4, n_ff: int = 18944,
                        n_vocab: int = 152064, n_ctx: int = 32768) -> Path:
    """An F16 Qwen2 GGUF with these shapes (defaults: Qwen2.5-7B) and Qwen2.5's tokenizer and template."""
    mtg = _tiny_module()
    gguf = mtg.gguf
    vocab = mtg.apply_qwen25_overlay(mtg.read_vocab(vocab_from))
    tokens, types = list(vocab["tokens"]), list(vocab["types"])
    for i in range(len(tokens), n_vocab):  # Qwen2.5-7B pads its embedding rows past the tokenizer
        tokens.append(f"[PAD{i}]".encode())
        types.append(int(gguf.TokenType.USER_DEFINED))
    head_dim = n_embd // n_head
    n_kv = head_dim * n_head_kv
    w = Weights(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = gguf.GGUFWriter(path, "qwen2")
    out.add_name("qaug-random-qwen2.5-7b-shape")
    mtg.add_qwen2_hparams(out, f16=True, n_layer=n_layer, n_ctx=n_ctx, n_embd=n_embd, n_ff=n_ff, n_head=n_head,
                          n_head_kv=n_head_kv)
    mtg.add_tokenizer(out, vocab, tokens, types)
    out.add_tensor("token_embd.weight", w.mat(n_vocab, n_embd))
    out.add_tensor("output_norm.weight", w.vec(n_embd, 1.0))
    out.add_tensor("output.weight", w.mat(n_vocab, n_embd))  # 7B does not tie its embeddings
    mtg.add_qwen2_blocks(out, w.mat, norm=lambda n: w.vec(n, 1.0), bias=w.vec, n_layer=n_layer, n_embd=n_embd,
                         n_kv=n_kv, n_ff=n_ff)
    out.write_header_to_file()
    out.write_kv_data_to_file()
    out.write_tensors_to_file()
    out.close()
    return path


def quantize(src: str | os.PathLike, dst: str | os.PathLike, ftype: str = "Q4_K_M", threads: int = 0) -> Path:
    """Quantise a GGUF through llama-cpp-python's binding of llama.cpp's llama_model_quantize."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[ftype]
    params.nthread = threads
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src} -> {ftype}) returned {rc}")
    return Path(dst)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--vocab", required=True, help="ggml-vocab-qwen2.gguf (vocab-only GGUF)")
    ap.add_argument("--quantize", choices=sorted(FTYPES), help="quantise into OUT (the F16 file is temporary)")
    ap.add_argument("--threads", type=int, default=0, help="quantisation threads (0: all cores)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=QWEN25_7B["n_layer"])
    ap.add_argument("--hidden", type=int, default=QWEN25_7B["n_embd"])
    ap.add_argument("--heads", type=int, default=QWEN25_7B["n_head"])
    ap.add_argument("--kv-heads", type=int, default=QWEN25_7B["n_head_kv"])
    ap.add_argument("--ff", type=int, default=QWEN25_7B["n_ff"])
    ap.add_argument("--vocab-size", type=int, default=QWEN25_7B["n_vocab"])
    args = ap.parse_args(argv)
    out = Path(args.out)
    f16 = out.with_name(out.stem + ".f16.gguf") if args.quantize and args.quantize != "F16" else out
    t0 = time.perf_counter()
    write_7b_shape_gguf(f16, args.vocab, seed=args.seed, n_layer=args.layers, n_embd=args.hidden, n_head=args.heads,
                        n_head_kv=args.kv_heads, n_ff=args.ff, n_vocab=args.vocab_size)
    t1 = time.perf_counter()
    print(f"wrote {f16} ({f16.stat().st_size / 1e9:.2f} GB) in {t1 - t0:.1f}s", file=sys.stderr)
    if f16 != out:
        try:
            quantize(f16, out, args.quantize, args.threads)
        finally:
            f16.unlink(missing_ok=True)
        print(f"quantised to {args.quantize}: {out} ({out.stat().st_size / 1e9:.2f} GB) in "
              f"{time.perf_counter() - t1:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
