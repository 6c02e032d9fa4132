"""Build the run's engine: the llama.cpp engine behind the result cache, loaded only when needed."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qaug.llm.cached import CachedEngine, ResultCache
from qaug.llm.engine import Engine, Job, Raw
from qaug.llm.gguf_file import read_gguf
from qaug.llm.models import file_sha256, model_id, resolve_model, state_dir
from qaug.llm.templates import resolve_template

if TYPE_CHECKING:
    from qaug.llm.options import EngineOptions, EngineSettings


def model_identity(path: Path, chat_template: str | None) -> tuple[str, str]:
    """(model id for provenance, cache identity): the file's sha256 and the template that formats prompts."""
    info = read_gguf(path)
    template = resolve_template(info.architecture, info.chat_template, chat_template)
    sha = file_sha256(path)
    return model_id(path, sha), f"{sha}|{template.text}"


def open_engine(path: Path, options: "EngineOptions", use_cache: bool = True, folder: Path | None = None) -> Engine:
    """A cached engine (default) or the bare llama.cpp engine (--no-cache).

    llama_cpp and numpy are imported only when a model is really loaded: a fully cached rerun
    starts in a fraction of the time.
    """

    def load() -> Engine:
        from qaug.llm.llamacpp import LlamaCppEngine

        return LlamaCppEngine(path, options)

    if not use_cache:
        return load()
    model_id, identity = model_identity(path, options.chat_template)
    return CachedEngine(load, ResultCache(folder or state_dir()), identity, model_id)


def engine_spec(settings: "EngineSettings", *, verbose: bool = False, use_cache: bool = True,
                cache_dir: Path | None = None) -> "EngineSpec":
    """How to open the engine the settings name (the model found as `qaug models` says), here or in a Ray actor.

    One place for `run`, `score` and `doctor`; the caller tells the user when `spec.demo` (the embedded model).
    """
    choice = resolve_model(Path(settings.gguf) if settings.gguf else None,
                           Path(settings.models_dir) if settings.models_dir else None)
    return EngineSpec(choice.path, settings.options(verbose), use_cache=use_cache,
                      folder=cache_dir.resolve() if cache_dir else None, origin=choice.origin, demo=choice.demo)


@dataclass(frozen=True)
class EngineSpec:
    """Everything needed to open the run's engine again in another process (a Ray actor): picklable."""

    path: Path
    options: "EngineOptions"
    use_cache: bool = True
    folder: Path | None = None
    #: where the model was found (`qaug models`' words), and whether it is the embedded demo model
    origin: str = ""
    demo: bool = False

    def stand_in(self) -> Engine:
        """The run's engine when Ray actors compute: it names the model and keeps the counters the actors
        send back; with the cache it also reads and records the speed, and it never loads the model here."""
        if self.use_cache:
            return self.open()  # lazy: the model loads only on a miss, and the run sends none its way
        return StandInEngine(model_identity(self.path, self.options.chat_template)[0])

    def open(self, **overrides: Any) -> Engine:
        """The engine this spec names; `overrides` replace engine options (an actor's thread share)."""
        options = replace(self.options, **overrides) if overrides else self.options
        return open_engine(self.path, options, self.use_cache, self.folder)


class StandInEngine(Engine):
    """Holds a model's name and counters for a run whose actors compute; it answers nothing itself."""

    def __init__(self, model_id: str) -> None:
        super().__init__()
        self.model_id = model_id

    def _attempt_many(self, jobs: deque[Job]) -> Iterator[tuple[Job, Raw]]:
        raise RuntimeError("a run on Ray computes on its actors; the driver's engine answers nothing")
