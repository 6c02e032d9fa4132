"""Build the run's engine: the llama.cpp engine behind the result cache, loaded only when needed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qaug.llm.cached import CachedEngine, ResultCache
from qaug.llm.engine import Engine
from qaug.llm.gguf_file import read_gguf
from qaug.llm.models import file_sha256, state_dir
from qaug.llm.templates import resolve_template

if TYPE_CHECKING:
    from qaug.llm.options import EngineOptions


def model_identity(path: Path, chat_template: str | None) -> tuple[str, str]:
    """(model id for provenance, cache identity): the file's sha256 and the template that formats prompts."""
    info = read_gguf(path)
    template = resolve_template(info.architecture, info.chat_template, chat_template)
    sha = file_sha256(path)
    return f"{path.name}@sha256:{sha[:12]}", f"{sha}|{template.text}"


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
