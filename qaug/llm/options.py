"""How to load and run a model: a plain dataclass, importable without llama.cpp or numpy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class EngineOptions:
    """How to load and run a model; defaults come from the model and the machine."""

    n_ctx: int | None = None          # per sequence; None: min(model's trained context, 4096)
    n_threads: int | None = None      # None: the cores this process may use
    n_gpu_layers: int | str = "auto"  # "auto": all layers when the build can offload, else 0
    parallel: int | None = None       # None: chosen from the hardware and context size (engine.parallel)
    deterministic: bool = False       # one job at a time, empty cache, no prefix reuse: byte-identical reruns
    prefix_reuse: bool = True         # evaluate a shared prompt prefix once and copy its KV cache
    chat_template: str | None = None
    n_batch: int = 512
    verbose: bool = False
    log_path: Path | None = None
