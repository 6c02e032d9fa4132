"""Shared fixtures: small datasets written on the fly, and a runner for the real CLI."""

from __future__ import annotations

import json
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


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m qaug ...` as a user would, capturing both streams."""
    return subprocess.run([sys.executable, "-m", "qaug", *args], cwd=cwd or ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture
def alpaca_rows() -> list[dict]:
    return [
        {"instruction": "Extract the fields as JSON.", "input": "ACME earned $5M in 2023.",
         "output": '{"company": "ACME", "revenue": 5000000, "year": 2023, "meta": {"currency": "USD", "audited": true}}'},
        {"instruction": "Say hello.", "input": "", "output": "Hello!"},
        {"id": "r3", "instruction": "列出城市数据", "input": "",
         "output": '```json\n{"城市": "北京", "人口": 21893095, "区": ["东城", "西城"]}\n```'},
    ]
