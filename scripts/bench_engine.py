#!/usr/bin/env python3
"""Free vs grammar-constrained generation through llama.cpp, in one run, on one model.

Rows (same prompt, same threads, up to --tokens tokens each):
  - llama-cpp-python free generation (Llama.create_completion, no grammar)
  - llama-cpp-python with its own JSON-schema grammar (LlamaGrammar.from_json_schema)
  - qaug engine, single stream, llguidance-constrained JSON
plus the model's load time and the qaug engine's decode-only share.

    python scripts/bench_engine.py [--gguf F | --tiny | --qwen-vocab] [--tokens 200] [--threads N] [--runs 3]
Default model: the embedded demo model (gemma-3-270m Q4_K_M).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["variants"],
          "properties": {"variants": {"type": "array", "minItems": 5, "maxItems": 5, "items": {"type": "string"}}}}
PROMPT = ("Write five different rewrites of this instruction, as JSON {\"variants\": [...]}: "
          "Summarise the attached quarterly report for the board in three bullet points.")


def pick_model(args: argparse.Namespace, tmp: Path) -> Path:
    if args.gguf:
        return Path(args.gguf)
    if args.tiny or args.qwen_vocab:
        import importlib.util

        spec = importlib.util.spec_from_file_location("make_tiny_gguf", ROOT / "scripts" / "make_tiny_gguf.py")
        mtg = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mtg)
        vocab = mtg.fetch_qwen2_vocab(quiet=True) if args.qwen_vocab else None
        return mtg.write_tiny_gguf(tmp / "bench.gguf", vocab_from=vocab)
    from qaug.llm.models import gemma_demo

    path = gemma_demo()
    if path is None:
        sys.exit("no model: pass --gguf, --tiny or --qwen-vocab, or install the demo extra")
    return path


def llama_cpp_python_rows(path: Path, args: argparse.Namespace) -> list[tuple[str, int, float]]:
    import llama_cpp
    from llama_cpp.llama_grammar import LlamaGrammar

    from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine

    eng = LlamaCppEngine(path, EngineOptions(n_threads=args.threads))  # only for the chat-formatted prompt
    prompt = eng.render_prompt([{"role": "user", "content": PROMPT}])
    if eng.add_bos and eng.bos_text and prompt.startswith(eng.bos_text):
        prompt = prompt[len(eng.bos_text):]  # create_completion adds BOS itself
    eng.close()
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=2048, n_threads=args.threads, n_threads_batch=args.threads,
                          verbose=False)
    grammar = LlamaGrammar.from_json_schema(__import__("json").dumps(SCHEMA), verbose=False)
    rows = []
    for label, kw in (("llama-cpp-python free", {}), ("llama-cpp-python JSON-schema grammar", {"grammar": grammar})):
        tokens, secs = 0, 0.0
        for run in range(args.runs):
            llm.reset()
            t0 = time.perf_counter()
            out = llm.create_completion(prompt, max_tokens=args.tokens, temperature=0.7, top_p=0.8, top_k=20,
                                        repeat_penalty=1.05, seed=run, **kw)
            secs += time.perf_counter() - t0
            tokens += out["usage"]["completion_tokens"]
        rows.append((label, tokens, secs))
    del llm
    return rows


def qaug_row(path: Path, args: argparse.Namespace) -> tuple[tuple[str, int, float], float, float]:
    from qaug.llm.engine import Job, Sampling
    from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine

    t0 = time.perf_counter()
    eng = LlamaCppEngine(path, EngineOptions(n_ctx=2048, n_threads=args.threads, parallel=1))
    load = time.perf_counter() - t0
    eng.max_attempts = 1
    jobs = [Job(key=str(i), messages=({"role": "user", "content": PROMPT},), schema=SCHEMA, seed=i,
                sampling=Sampling(max_tokens=args.tokens)) for i in range(args.runs)]
    eng.compiled(SCHEMA)
    t0 = time.perf_counter()
    results = list(eng.generate(jobs))
    secs = time.perf_counter() - t0
    tokens = sum(r.completion_tokens for r in results)
    decode = eng.decode_seconds
    eng.close()
    return ("qaug engine, llguidance JSON (1 stream)", tokens, secs), load, decode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--qwen-vocab", action="store_true")
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = pick_model(args, Path(tmp))
        rows = llama_cpp_python_rows(path, args)
        row, load, decode = qaug_row(path, args)
        rows.append(row)
    free_rate = rows[0][1] / rows[0][2]
    print(f"model {path.name}, {args.threads} threads, up to {args.tokens} tokens x {args.runs} runs")
    print(f"{'path':<42} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'vs free':>8}")
    for label, tokens, secs in rows:
        rate = tokens / secs if secs else 0.0
        print(f"{label:<42} {tokens:>7} {secs:>8.2f} {rate:>9.1f} {rate / free_rate:>8.2f}")
    print(f"qaug engine: load {load:.2f}s; llama_decode {decode:.2f}s of {rows[-1][2]:.2f}s "
          f"({100 * decode / rows[-1][2]:.0f}% of generation time)")


if __name__ == "__main__":
    main()
