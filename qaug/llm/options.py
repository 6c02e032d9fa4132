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


@dataclass(frozen=True)
class EngineSettings:
    """A run's model settings as the user gives them (flags, recipe `[model]`): which model, and how to load it.

    None: chosen later, from the model and the machine. `RunConfig.engine` holds one; `qaug.llm.factory.engine_spec`
    turns it into an engine, for `run`, `score` and `doctor` alike.
    """

    gguf: str | None = None
    models_dir: str | None = None
    ctx: int | None = None
    threads: int | None = None
    n_gpu_layers: str = "auto"
    parallel: int | None = None
    chat_template: str | None = None
    deterministic: bool = False

    def options(self, verbose: bool = False) -> EngineOptions:
        """The engine options these settings ask for."""
        return EngineOptions(n_ctx=self.ctx, n_threads=self.threads, n_gpu_layers=self.n_gpu_layers,
                             parallel=self.parallel, chat_template=self.chat_template, verbose=verbose,
                             deterministic=self.deterministic)
