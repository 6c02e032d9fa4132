"""What `qaug run` does before the first record is read: settings resolved, inputs found, everything checked.

Each step fails with a UsageError before any model loads or any output is written, so a bad flag, parameter,
field or input costs nothing. The command line (qaug.cli_run) only shows what this returns.
"""

from __future__ import annotations

import atexit
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qaug.augment.base import Augmenter
from qaug.config import RunConfig
from qaug.errors import UsageError
from qaug.inputs import expand_inputs
from qaug.llm.engine import Engine, Sampling
from qaug.augment.catalog import build_augmenters
from qaug.plan import RunPlan, make_plan, too_small_note
from qaug.preflight import check_fields, file_formats, ignored_notes
from qaug.recipe import below_bar_note, load_recipe, task_note
from qaug.resolve import RunFlags, resolve
from qaug.run_input import selected_items
from qaug.spool import is_stream, spool, spool_folder

#: `-o -`: the name the run's companions (rejects, report, journal) take in the current folder
STDOUT_NAME = "qaug-stdout.jsonl"


@dataclass(frozen=True)
class Launch:
    """A run ready to start: its configuration, its methods built, and what the user should be told first."""

    config: RunConfig
    augmenters: list[Augmenter]
    needs_model: bool
    #: notes for stderr: a method below its quality bar, flags this run does not use, earlier outputs not read
    notes: list[str]


def stdout_output(output: Path, resume: bool, overwrite: bool) -> tuple[Path, bool]:
    """(the path that names the run's files, whether the output lines go to stdout) for -o."""
    if resume and overwrite:
        raise UsageError("--resume and --overwrite contradict each other: --resume continues the run in "
                         f"{output}, --overwrite starts it again; give one")
    if str(output) != "-":
        return output, False
    if resume:
        raise UsageError("--resume needs an output file: a run into stdout (-o -) cannot be continued")
    return Path(STDOUT_NAME), True  # names the rejects, report and journal, in the current folder


def prepare(flags: RunFlags, resume: bool, task_and_methods: bool, gguf: Path | None) -> Launch:
    """Flags and recipe resolved, inputs expanded (folders, globs, streams spooled), every setting checked."""
    recipe = load_recipe(flags.recipe) if flags.recipe else {}
    resolved = resolve(flags, recipe)
    names = list(resolved.config.methods)
    task = None if flags.methods else flags.task or (None if recipe.get("methods") else recipe.get("task"))
    notes = [n for n in [below_bar_note(names), task_note(task)] if n]
    notes += ignored_notes(names, resolved.needs_model, resolved.model_flags, task_and_methods, gguf)
    if sum(str(p) == "-" for p in flags.inputs) > 1:
        raise UsageError("stdin (-) is given twice: it can be read only once")
    earlier: list[Path] = []
    inputs = expand_inputs(list(flags.inputs), flags.output, earlier)  # a folder or a glob reads its files, sorted
    notes += [f"note: {p} is not read: it is an earlier run's output (its lines carry _qaug); name it to read it"
              for p in earlier]
    spool_dir = _spool_folder(inputs, flags.output, resume)
    if spool_dir is not None:
        inputs = [spool(p, spool_dir) if is_stream(p) else p for p in inputs]
    run = replace(resolved.config, inputs=tuple(inputs))
    run.validate()
    augmenters = build_augmenters(run)  # a bad parameter or pivot fails here, before the model loads
    if run.fields:
        check_fields(list(run.fields), file_formats(run.inputs, run.fmt, run.max_line_bytes))
    return Launch(run, augmenters, resolved.needs_model, notes)


def plan_run(launch: Launch) -> tuple[RunPlan, str | None]:
    """The plan (records, model calls, tokens, what the cap lets through) and, for a model run whose input is too
    small for any variant under the cap, the note that says so."""
    config = launch.config
    plan = make_plan(selected_items(config), launch.augmenters, config.max_aug_ratio, config.variants, config.seed,
                     config.verify and launch.needs_model, (config.sampling or Sampling()).max_tokens)
    return plan, too_small_note(plan.records, config.max_aug_ratio) if launch.needs_model else None


def measured_speed(engine: Engine | None) -> float | None:
    """Model seconds per computed answer from the cache's record of past runs with this model, or None."""
    cache = getattr(engine, "cache", None)
    return cache.speed(engine.model_id) if cache is not None and engine is not None else None


def record_speed(engine: Engine) -> None:
    """Remember this run's model seconds per computed answer, for the next plan's ETA."""
    cache = getattr(engine, "cache", None)
    if cache is not None:
        try:
            from qaug.stats import engine_seconds

            # generation and the support check's scoring: what the next plan's ETA must cover
            cache.record_speed(engine.model_id, engine.stats.computed, engine_seconds(engine))
        except Exception:  # noqa: BLE001 - a speed record is a convenience, never a reason to fail a run
            pass


def _spool_folder(inputs: list[Path], output: Path, resume: bool) -> Path | None:
    """A private folder beside the output for inputs that are streams (`-`, a pipe), or None when there are none."""
    if not any(is_stream(p) for p in inputs):
        return None
    if resume:
        raise UsageError("--resume needs the same input files, and stdin or a pipe can be read only once; "
                         "save the stream to a file to make a run resumable")
    folder = spool_folder(output)  # made by spool() once a stream is open
    atexit.register(shutil.rmtree, folder, True)  # however the run ends
    return folder


def engine_note(spec: Any) -> str | None:
    """The note for a run on the embedded demo model, or None."""
    if not spec.demo:
        return None
    from qaug.llm.models import DEMO_NOTICE

    return DEMO_NOTICE.format(name=spec.path.name)
