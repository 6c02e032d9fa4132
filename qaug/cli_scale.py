"""The command line's side of `--ray`, `--gpus` and `--actors` (qaug.scale, qaug.ray_pool)."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from typing import Any

from qaug.errors import UsageError


def ray_flag_alone(args: list[str]) -> list[str]:
    """`--ray` given without an address means a local Ray: the parser needs that said (`--ray local`).

    What follows `--ray` is its address only when it reads as one (local, auto, ray://..., host:port),
    so `qaug run --ray data.jsonl -o out.jsonl` keeps data.jsonl as an input.
    """
    out = list(args)
    for i, arg in enumerate(out):
        if arg == "--":
            break
        if arg == "--ray":
            nxt = out[i + 1] if i + 1 < len(out) else None
            if nxt is None or not re.fullmatch(r"local|auto|ray://\S+|[\w.-]+:\d+", nxt):
                out.insert(i + 1, "local")
            break
    return out


def start_executor(config: Any, spec: Any, scale: Any, needs_model: bool,
                   say: Callable[[str], None] | None) -> Any:
    """The Ray actor pool of a --ray / --gpus run, announced on stderr."""
    from qaug.ray_pool import RayExecutor

    executor = None
    try:
        # Ray's start is not safe to interrupt (a Ctrl-C there could be lost, or crash the process at exit):
        # a signal during it is noted, and acted on once Ray has started, which is then shut down cleanly.
        # (Blocking the signals instead would be inherited by Ray's own processes, which then ignore them.)
        got: list[int] = []

        def note(signum: int, _frame: Any) -> None:
            got.append(signum)

        saved = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            executor = RayExecutor(config, spec, scale, needs_model)
        finally:
            for s, handler in saved.items():
                if signal.getsignal(s) is note:  # a handler Ray installed meanwhile (SIGTERM) stays
                    signal.signal(s, handler)
        if got:
            raise KeyboardInterrupt
    except BaseException:
        if executor is not None:
            executor.close()
        raise
    if say is not None and scale.gpus:
        from qaug.llm.doctor import gpu_indices

        visible = gpu_indices()
        unseen = [g for g in scale.gpus if g not in visible]
        if unseen:
            seen = f"nvidia-smi lists {', '.join(visible)}" if visible else "no GPU is visible"
            say(f"note: --gpus: GPU {', '.join(unseen)} not found here ({seen}); "
                f"{'its actor runs' if len(unseen) == 1 else 'their actors run'} on the CPU")
    if say is not None:
        where = scale.address or (f"GPUs {','.join(scale.gpus)}" if scale.gpus else "local")
        say(f"Ray ({where}): {executor.actors} actor{'s' if executor.actors != 1 else ''}, "
            f"{executor.threads} CPU thread{'s' if executor.threads != 1 else ''} each")
    return executor


def scale_options(ray: str | None, gpus: str | None, actors: int | None, threads: int | None) -> Any:
    """--ray / --gpus / --actors as ScaleOptions, or None for a run in this process alone."""
    if ray is None and gpus is None:
        if actors is not None:
            raise UsageError("--actors needs --ray or --gpus")
        return None
    from qaug.scale import ScaleOptions, ray_available, ray_missing_message

    if not ray_available():
        raise UsageError(ray_missing_message())
    listed = tuple(g.strip() for g in (gpus or "").split(",") if g.strip())
    if gpus is not None:
        if not listed or not all(g.isdigit() for g in listed):
            raise UsageError(f"--gpus {gpus}: give GPU indices, e.g. --gpus 0,1,2,3")
        if ray not in (None, "local"):
            raise UsageError("--gpus starts a local Ray on this machine; to join a cluster give --ray ADDRESS alone")
        if len(set(listed)) != len(listed):
            raise UsageError(f"--gpus {gpus}: a GPU is listed twice; give each once")
        if actors is not None and actors != len(listed):
            raise UsageError(f"--gpus {gpus} runs one actor per GPU ({len(listed)}); leave out --actors")
    return ScaleOptions(address=None if ray in (None, "local") else ray, gpus=listed, actors=actors, threads=threads)
