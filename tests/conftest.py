"""Shared fixtures: small datasets written on the fly, a runner for the real CLI, and the two ways the method
tests run one method (pure: one record, one outcome; model: a scripted engine)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def write_jsonl(path: Path, rows: list) -> Path:
    """Rows are dicts (dumped) or str/bytes (written verbatim as one line)."""
    with open(path, "wb") as fh:
        for row in rows:
            if isinstance(row, bytes):
                fh.write(row + b"\n")
            elif isinstance(row, str):
                fh.write(row.encode("utf-8") + b"\n")
            else:
                fh.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    with open(path, "rb") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def pure_outcome(aug, record, seed: int = 1):
    """The one outcome (a Variant or a Skip) of a pure method on one record; the record must stay untouched."""
    from qaug.rng import Rng

    before = copy.deepcopy(record.data)
    outcomes = list(aug.augment(record, Rng(seed)))
    assert len(outcomes) == 1, outcomes
    assert record.data == before, "input record was mutated"
    return outcomes[0]


def scripted_outcomes(aug, records: list, script, seeds: list[int]):
    """Outcomes per record of a model method through a scripted engine (script(job, attempt) -> answer text),
    and the engine; the records must stay untouched and every job's schema must be one the engine accepts."""
    from qaug.llm.engine import Sampling
    from scripted import ScriptedEngine
    from qaug.llm.schema import check_schema
    from qaug.rng import Rng

    before = [copy.deepcopy(r.data) for r in records]
    engine = ScriptedEngine(script)
    aug.bind(engine, Sampling())
    out = aug.augment_many([(r, Rng(seed)) for r, seed in zip(records, seeds)])
    assert [r.data for r in records] == before, "input record was mutated"
    for job in engine.jobs_seen:
        check_schema(job.schema)
    return out, engine


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m qaug ...` as a user would, capturing both streams."""
    return subprocess.run([sys.executable, "-m", "qaug", *args], cwd=cwd or ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def figures_dataset(path: Path, n: int, bad_every: int, bad_at: int) -> Path:
    """Structured-extraction records (a JSON answer each), with a line of broken JSON at i % bad_every == bad_at."""
    rows: list = []
    for i in range(n):
        if i % bad_every == bad_at:
            rows.append("{broken json")
        else:
            rows.append({"instruction": f"Extract the figures of report {i}.", "input": "",
                         "output": json.dumps({"company": f"C{i}", "year": 2000 + i % 20,
                                               "revenue": {"value": i * 7, "unit": "M"}, "audited": i % 2 == 0})})
    return write_jsonl(path, rows)


def run_qaug(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m qaug run ARGS` with no fault injection inherited from this process, plus `env`."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("QAUG_FAULT")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "qaug", "run", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full)


@pytest.fixture(autouse=True, scope="session")
def _private_state_dir(tmp_path_factory):
    """Tests keep their result cache and llama.cpp log out of the user's ~/.cache/qaug."""
    os.environ["QAUG_CACHE_DIR"] = str(tmp_path_factory.mktemp("qaug-state"))
    yield


@pytest.fixture
def alpaca_rows() -> list[dict]:
    return [
        {"instruction": "Extract the fields as JSON.", "input": "ACME earned $5M in 2023.",
         "output": '{"company": "ACME", "revenue": 5000000, "year": 2023, '
                   '"meta": {"currency": "USD", "audited": true}}'},
        {"instruction": "Say hello.", "input": "", "output": "Hello!"},
        {"id": "r3", "instruction": "列出城市数据", "input": "",
         "output": '```json\n{"城市": "北京", "人口": 21893095, "区": ["东城", "西城"]}\n```'},
    ]


def load_script(name: str):
    """Import a scripts/*.py file as a module (the test-model builder lives in scripts/, beside the benchmarks)."""
    import importlib.util
    import sys

    path = ROOT / "scripts" / f"{name}.py"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory) -> Path:
    """The random-weight Qwen2 test model with its own small byte-level vocabulary (< 1 MB)."""
    path = tmp_path_factory.mktemp("models") / "tiny-qwen2.gguf"
    return load_script("make_tiny_gguf").write_tiny_gguf(path, seed=0)


@pytest.fixture(scope="module")
def llama(tiny_gguf: Path):
    """A real llama.cpp engine on the tiny random model, 2 sequences: methods' noise must end as reasons."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine

    engine = LlamaCppEngine(tiny_gguf, EngineOptions(n_ctx=1024, n_threads=1, parallel=2))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def qwen_vocab_gguf(tmp_path_factory) -> Path:
    """A random-weight Qwen2 with Qwen2.5's real 151,936-token tokenizer; skipped when the vocab is not cached."""
    mtg = load_script("make_tiny_gguf")
    vocab = mtg.cached_qwen2_vocab()
    if vocab is None:
        pytest.skip("Qwen2 vocab not cached: run `python scripts/make_tiny_gguf.py --fetch-qwen2-vocab` "
                    "(scripts/test.sh does)")
    path = tmp_path_factory.mktemp("models") / "qwen-vocab.gguf"
    return mtg.write_tiny_gguf(path, seed=0, vocab_from=vocab)
