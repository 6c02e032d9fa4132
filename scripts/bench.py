#!/usr/bin/env python3
"""Throughput of the qaug engine against llama-cpp-python, in one run, on one model: ONE table.

Rows (same threads, same prompts: qaug's real `rewrite` prompt over examples/alpaca_en.jsonl,
a schema that forces long answers - 5 strings of >= 40 characters - and a fixed token budget,
so every job generates about --tokens tokens; tokens/s = generated tokens / wall time):
  - llama-cpp-python free generation, and with its own JSON-schema grammar (GBNF)
  - qaug engine, 1 stream, llguidance grammar: ratio to free (with and without prefix reuse)
  - qaug engine at N = 2, 4, 8, 16: aggregate tokens/s, ratio to 1 stream, and the decode-only
    ceiling (generated tokens / seconds spent inside llama_decode in that same run) with the ratio to it
  - the same at N=4 without prefix reuse; prompt tokens evaluated per job with and without it
  - qaug engine with the numpy sampler (the fallback where no C compiler was available) at N=1 and the largest N
  - end to end: `qaug run --methods rewrite` on 50 example records, records/s
  - peak RSS of this process and of the `qaug run` child

    python scripts/bench.py [--gguf F | --tiny | --qwen-vocab] [--threads N] [--tokens 64] [--ns 1,2,4,8,16]
Default model: gemma-3-270m Q4_K_M from the `demo` extra. The machine is shared, so
compare ratios within one run, not absolute numbers between runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["variants"],
          "properties": {"variants": {"type": "array", "minItems": 5, "maxItems": 5,
                                      "items": {"type": "string", "minLength": 40}}}}


@dataclass
class Row:
    what: str
    n: str = ""
    tokens: int | str = ""
    seconds: float | str = ""
    rate: float | str = ""
    unit: str = "tokens/s"
    ratio: str = ""
    ceiling: str = ""
    vs_ceiling: str = ""


def pick_model(args: argparse.Namespace, tmp: Path) -> Path:
    if args.gguf:
        return Path(args.gguf)
    if args.tiny or args.qwen_vocab:
        import importlib.util

        spec = importlib.util.spec_from_file_location("make_tiny_gguf", ROOT / "scripts" / "make_tiny_gguf.py")
        mtg = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mtg)
        vocab = mtg.fetch_qwen2_vocab(quiet=True) if args.qwen_vocab else None
        return mtg.write_tiny_gguf(tmp / ("qwen-vocab.gguf" if vocab else "tiny.gguf"), vocab_from=vocab)
    from qaug.llm import models

    finder = getattr(models, "gemma_demo", None) or models.demo_model  # gemma-3-270m from the `demo` extra
    path = finder()
    if path is None:
        sys.exit("no model: pass --gguf, --tiny or --qwen-vocab, or install the demo extra")
    return path


def example_texts() -> list[str]:
    with open(ROOT / "examples" / "alpaca_en.jsonl", encoding="utf-8") as fh:
        return [json.loads(line)["instruction"] for line in fh if line.strip()]


def rewrite_messages(text: str) -> tuple[dict[str, str], ...]:
    """qaug's own `rewrite` prompt (English), so the shared prefix is the real one."""
    spec = json.loads((ROOT / "qaug" / "augment" / "prompts" / "rewrite.json").read_text(encoding="utf-8"))["en"]
    return ({"role": "system", "content": spec["system"]},
            {"role": "user", "content": spec["user"].format(n=5, language="English", text=text)})


def make_jobs(count: int, tokens: int) -> list[Any]:
    from qaug.llm.engine import Job, Sampling

    texts = example_texts()
    return [Job(key=str(i), messages=rewrite_messages(texts[i % len(texts)]), schema=SCHEMA, seed=i,
                sampling=Sampling(max_tokens=tokens)) for i in range(count)]


def llama_cpp_python_rows(path: Path, args: argparse.Namespace) -> list[Row]:
    import llama_cpp
    from llama_cpp.llama_grammar import LlamaGrammar

    from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine

    eng = LlamaCppEngine(path, EngineOptions(n_ctx=args.ctx, n_threads=args.threads, parallel=1, prefix_reuse=False))
    prompts = []
    for job in make_jobs(args.runs, args.tokens):
        p = eng.render_prompt(job.messages)
        if eng.add_bos and eng.bos_text and p.startswith(eng.bos_text):
            p = p[len(eng.bos_text):]  # create_completion adds BOS itself
        prompts.append(p)
    eng.close()
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=args.ctx, n_threads=args.threads,
                          n_threads_batch=args.threads, verbose=False)
    grammar = LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False)
    rows = []
    for label, kw in (("llama-cpp-python, free", {}),
                      ("llama-cpp-python, its JSON-schema grammar", {"grammar": grammar})):
        tokens, secs = 0, 0.0
        for run, prompt in enumerate(prompts):
            llm.reset()
            t0 = time.perf_counter()
            out = llm.create_completion(prompt, max_tokens=args.tokens, temperature=0.7, top_p=0.8, top_k=20,
                                        repeat_penalty=1.05, seed=run, **kw)
            secs += time.perf_counter() - t0
            tokens += out["usage"]["completion_tokens"]
        rows.append(Row(label, "1", tokens, secs, tokens / secs))
    del llm
    return rows


def engine_run(path: Path, args: argparse.Namespace, n: int, reuse: bool = True, numpy_sampler: bool = False
               ) -> dict[str, Any]:
    """One engine at parallel=n over max(runs, 2n) jobs; throughput and counters."""
    from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine

    eng = LlamaCppEngine(path, EngineOptions(n_ctx=args.ctx, n_threads=args.threads, parallel=n, prefix_reuse=reuse))
    if numpy_sampler:
        eng._sampler.compiled = None  # the numpy path, as where no C compiler was available
    eng.max_attempts = 1  # a cut-off answer is a full budget of tokens; no retries, comparable counts
    eng.compiled(SCHEMA)
    jobs = make_jobs(max(args.runs, 2 * n), args.tokens)
    t0 = time.perf_counter()
    results = list(eng.generate(jobs))
    wall = time.perf_counter() - t0
    out = {"n": n, "jobs": len(jobs), "tokens": sum(r.completion_tokens for r in results), "wall": wall,
           "decode": eng.decode_seconds, "ok": sum(r.ok for r in results), **eng.stats}
    eng.close()
    return out


def default_parallel(path: Path, args: argparse.Namespace) -> int:
    from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine

    eng = LlamaCppEngine(path, EngineOptions(n_ctx=args.ctx, n_threads=args.threads))
    n = eng.parallel
    eng.close()
    return n


def end_to_end(path: Path, args: argparse.Namespace, parallel: int, tmp: Path) -> tuple[Row, int]:
    """`qaug run --methods rewrite` on 50 example records in a child process: records/s and its peak RSS."""
    rows: list[str] = []
    for name in ("alpaca_en.jsonl", "alpaca_zh.jsonl"):
        rows += [line for line in (ROOT / "examples" / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    records = []
    for i in range(args.records):
        rec = json.loads(rows[i % len(rows)])
        rec["id"] = f"{rec.get('id', 'r')}-{i}"
        records.append(json.dumps(rec, ensure_ascii=False))
    src = tmp / "records.jsonl"
    src.write_text("\n".join(records) + "\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "qaug", "run", str(src), "-o", str(tmp / "out.jsonl"), "--methods", "rewrite", "-q",
           "--max-aug-ratio", "1", "--param", "rewrite.n=2", "--gguf", str(path), "--threads", str(args.threads),
           "--parallel", str(parallel), "--overwrite"]
    extra = [["--no-cache"], ["--cache-dir", str(tmp / "cache")], []]
    for more in extra:  # the cache flags are newer than this script may be run with
        t0 = time.perf_counter()
        res = subprocess.run(cmd + more, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if res.returncode != 2 or "No such option" not in res.stderr:
            break
    if res.returncode not in (0, 4):  # 4: finished with rejects
        print(f"qaug run failed ({res.returncode}):\n{res.stderr[-2000:]}", file=sys.stderr)
    written, tokens, attempts = "", "", ""
    for rep in tmp.glob("*report*.json"):
        report = json.loads(rep.read_text(encoding="utf-8"))
        meth = report.get("methods", {}).get("rewrite", {})
        written = f"{meth.get('written', '?')} variants written" if isinstance(meth, dict) else ""
        model = report.get("model") or {}
        tokens = model.get("completion_tokens", "")  # records/s depends on how long the answers were
        attempts = f", {model['attempts']} attempts" if "attempts" in model else ""
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    row = Row(f"qaug run --methods rewrite, {args.records} records, rewrite.n=2 "
              f"({written}{attempts}; exit {res.returncode})",
              str(parallel), tokens, wall, args.records / wall, "records/s",
              ratio=f"{tokens / wall:.1f} tokens/s" if isinstance(tokens, int) and wall else "")
    return row, rss


def fmt(v: Any, digits: int = 1) -> str:
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def main() -> None:
    from qaug.llm.csample import library_path
    from qaug.llm.llamacpp import default_threads

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--qwen-vocab", action="store_true")
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--tokens", type=int, default=64, help="token budget of every job (default 64)")
    ap.add_argument("--runs", type=int, default=3, help="single-stream jobs per row (default 3)")
    ap.add_argument("--ctx", type=int, default=1024, help="context per sequence (default 1024)")
    ap.add_argument("--ns", default="2,4,8,16", help="parallel sequences to measure besides 1")
    ap.add_argument("--records", type=int, default=50, help="records for the end-to-end row; 0 skips it")
    ap.add_argument("--e2e-parallel", default="", help="--parallel values for end-to-end rows (default: the engine's)")
    ap.add_argument("--skip-llama-cpp-python", action="store_true")
    ap.add_argument("--skip-numpy-sampler", action="store_true", help="no rows for the numpy sampler")
    args = ap.parse_args()
    ns = [int(x) for x in args.ns.split(",") if x.strip()]
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qaug-bench-") as tmpdir:
        tmp = Path(tmpdir)
        path = pick_model(args, tmp)
        rows = [] if args.skip_llama_cpp_python else llama_cpp_python_rows(path, args)
        free = rows[0].rate if rows else None
        single = engine_run(path, args, 1)
        s_rate = single["tokens"] / single["wall"]

        def engine_row(r: dict[str, Any], label: str, ratio: str) -> Row:
            rate = r["tokens"] / r["wall"]
            ceiling = r["tokens"] / r["decode"] if r["decode"] else 0.0
            return Row(label, str(r["n"]), r["tokens"], r["wall"], rate, ratio=ratio,
                       ceiling=fmt(ceiling), vs_ceiling=f"{rate / ceiling:.2f}" if ceiling else "")

        rows.append(engine_row(single, "qaug engine, llguidance grammar",
                               f"{s_rate / free:.2f} x free" if free else ""))
        alone = engine_run(path, args, 1, reuse=False)  # like llama-cpp-python: every prompt evaluated in full
        rows.append(engine_row(alone, "qaug engine, llguidance grammar, no prefix reuse",
                               f"{alone['tokens'] / alone['wall'] / free:.2f} x free" if free else ""))
        runs = {}
        for n in ns:
            runs[n] = r = engine_run(path, args, n)
            rows.append(engine_row(r, "qaug engine, llguidance grammar",
                                   f"{r['tokens'] / r['wall'] / s_rate:.2f} x 1 stream"))
        if not args.skip_numpy_sampler:
            for n in sorted({1, max(ns, default=1)}):
                base = single if n == 1 else runs[n]
                r = engine_run(path, args, n, numpy_sampler=True)
                rows.append(engine_row(r, "qaug engine, llguidance grammar, numpy sampler",
                                       f"{r['tokens'] / r['wall'] / (base['tokens'] / base['wall']):.2f} x compiled"))
        n_cmp = 4 if 4 in runs else (ns[0] if ns else 1)
        with_reuse = runs.get(n_cmp, single)
        without = engine_run(path, args, n_cmp, reuse=False)
        rows.append(engine_row(without, "qaug engine, llguidance grammar, no prefix reuse",
                               f"{without['tokens'] / without['wall'] / s_rate:.2f} x 1 stream"))
        prompt = with_reuse["prompt_tokens"] / with_reuse["attempts"]
        for label, r in (("prompt tokens evaluated per job, prefix reuse", with_reuse),
                         ("prompt tokens evaluated per job, no prefix reuse", without)):
            per_job = r["prompt_tokens_evaluated"] / r["attempts"]
            rows.append(Row(label, str(r["n"]), "", "", per_job, f"tokens/job (prompt {prompt:.0f})",
                            f"{per_job / prompt:.2f} of prompt"))
        n_default = default_parallel(path, args)
        rss_child = 0
        for p in [int(x) for x in args.e2e_parallel.split(",") if x.strip()] or [n_default] if args.records else []:
            row, rss_child = end_to_end(path, args, p, tmp)
            rows.append(row)
        rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rows.append(Row("peak RSS: this bench process / the qaug run child", "", "", "",
                        f"{rss_self / 1024:.0f} / {rss_child / 1024:.0f}", "MiB"))
        print(f"model {path.name} ({path.stat().st_size / 1e6:.0f} MB) | {args.threads} threads | {args.tokens}-token "
              f"budget per job | default parallel here: {n_default} | sampler: "
              f"{'compiled' if library_path() else 'numpy (compiled sampler not built)'} | "
              f"bench took {time.perf_counter() - t_start:.0f}s")
    print()
    print("| what | N | gen tokens | wall s | rate | unit | ratio | decode-only ceiling tokens/s | vs ceiling |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.what} | {r.n} | {fmt(r.tokens)} | {fmt(r.seconds, 2)} "
              f"| {fmt(r.rate, 3 if r.unit == 'records/s' else 1)} "
              f"| {r.unit} | {r.ratio} "
              f"| {r.ceiling} | {r.vs_ceiling} |")


if __name__ == "__main__":
    main()
