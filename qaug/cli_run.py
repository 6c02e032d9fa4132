"""`qaug run`: the command line side of a run. qaug.launch resolves and checks, qaug.pipeline runs; this module
only shows the plan, the progress and the summary, and owns the engine's and the actors' lifetimes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import typer

from qaug.cli import app, err_console, guarded, out_console
from qaug.cli_summary import Progress, print_plan, print_summary


@app.command()
@guarded
def run(
    inputs: list[Path] = typer.Argument(...,
                                        help="Dataset files (.jsonl, .json array, .csv, .tsv; "
                                             ".gz read transparently), folders of them or globs "
                                             "('data/*.jsonl'), read in sorted order; - is stdin."),
    output: Path = typer.Option(..., "-o", "--output",
                                help="Output: .jsonl, or .json for a JSON array; - for stdout (rejects and report "
                                     "then go to the current folder). Rejects and report are written beside it."),
    methods: Optional[list[str]] = typer.Option(None, "--methods", "-m",
                                                help="Comma-separated methods or groups, repeatable: -m a "
                                                     "-m b is -m a,b (default rewrite; see `qaug methods`)."),
    task: Optional[str] = typer.Option(None, "--task",
                                       help="Recommended methods for a task: classification, sft, "
                                            "structured, reasoning, multilingual (--methods wins)."),
    recipe: Optional[Path] = typer.Option(None, "--recipe",
                                          help="TOML recipe: methods, parameters, gates, "
                                               "model, sampling. Flags override it."),
    seed: Optional[int] = typer.Option(None, "--seed",
                                       help="Run seed; results depend only on seed, "
                                            "record id, method and parameters (default 0)."),
    fmt: Optional[str] = typer.Option(None, "--format",
                                      help="Record format: alpaca, sharegpt, messages, text or completion "
                                           "(prompt/completion pairs) (default: detected per record)."),
    fields: Optional[str] = typer.Option(None, "--fields",
                                         help="Texts methods may change, e.g. instruction,input "
                                              "or user,assistant (default: per method)."),
    target: Optional[str] = typer.Option(None, "--target",
                                         help="'texts': JSON inside the record's texts; 'record': "
                                              "the record object itself (default texts)."),
    no_originals: Optional[bool] = typer.Option(None, "--no-originals",
                                                help="Write only the variants, not the input records."),
    strict: Optional[bool] = typer.Option(None, "--strict",
                                          help="Stop with exit 1 at the first input or quality reject "
                                               "(variants over --max-aug-ratio are not rejects)."),
    variants: Optional[int] = typer.Option(None, "--variants", min=1,
                                           help="Variants to try per record and method (default 1)."),
    max_aug_ratio: Optional[float] = typer.Option(None, "--max-aug-ratio", min=0.0, max=1.0,
                                                  help="Largest share of augmented records in "
                                                       "the output (default 0.3; 1 = no cap)."),
    verify: Optional[bool] = typer.Option(None, "--verify/--no-verify",
                                          help="The model judges each model variant against its source, one "
                                               "yes/no question per failure kind (answered, entity changed, "
                                               "constraint dropped...), and rejects the failures. "
                                               "--no-verify skips it (faster, fewer safeguards) (default on)."),
    param: list[str] = typer.Option([], "--param", "-p",
                                    help="Method parameter METHOD.NAME=VALUE (repeatable), e.g. flatten.depth=1."),
    null_p: Optional[float] = typer.Option(None, "--null-p", help="Shorthand for null_inject.p / perturb.null_p."),
    max_line_mb: Optional[float] = typer.Option(None, "--max-line-mb",
                                                help="Lines longer than this go to the rejects file (default 8)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no summary table."),
    resume: bool = typer.Option(False, "--resume",
                                help="Continue an interrupted run (same options) into the same output."),
    window: Optional[int] = typer.Option(None, "--window", min=1,
                                         help="Records per batch (default 256; 32 with model methods)."),
    checkpoint_every: float = typer.Option(1.0, "--checkpoint-every", min=0.0,
                                           help="Seconds between checkpoints of a pure-Python "
                                                "run (model runs checkpoint every batch)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output instead of refusing."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir",
                                             help="Model-result cache folder (default "
                                                  "$QAUG_CACHE_DIR or ~/.cache/qaug)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the model-result cache."),
    gguf: Optional[Path] = typer.Option(None, "--gguf",
                                        help="GGUF model for model methods (default: "
                                             "$QAUG_MODEL, ./models, HF cache, demo)."),
    models_dir: Optional[Path] = typer.Option(None, "--models-dir", help="Folder of .gguf files (default ./models)."),
    ctx: Optional[int] = typer.Option(None, "--ctx", min=64,
                                      help="Context per sequence (default: the model's, at most 4096)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads (default: the cores available)."),
    n_gpu_layers: Optional[str] = typer.Option(None, "--n-gpu-layers",
                                               help="'auto': all layers when the build "
                                                    "can offload, else 0 (default auto)."),
    parallel: Optional[int] = typer.Option(None, "--parallel", min=1, max=64,
                                           help="Sequences decoded together in one context "
                                                "(default: chosen from the hardware)."),
    chat_template: Optional[str] = typer.Option(None, "--chat-template",
                                                help="chatml, gemma, llama3, phi3, mistral or a .jinja file."),
    temperature: Optional[float] = typer.Option(None, "--temperature", min=0.0,
                                                help="Sampling temperature (default 0.7, as Qwen2.5 recommends)."),
    top_p: Optional[float] = typer.Option(None, "--top-p", min=0.0, max=1.0, help="Nucleus sampling (default 0.8)."),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=0, help="Top-k sampling (default 20; 0 = off)."),
    min_p: Optional[float] = typer.Option(None, "--min-p", min=0.0, max=1.0, help="Min-p sampling (default 0)."),
    repeat_penalty: Optional[float] = typer.Option(None, "--repeat-penalty",
                                                   help="Repeat penalty over the last 64 tokens (default 1.05)."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=8,
                                             help="Token budget of one model answer (default 512)."),
    deterministic: Optional[bool] = typer.Option(None, "--deterministic",
                                                 help="One sequence at a time, no prefix "
                                                      "reuse: byte-identical reruns (slower)."),
    verbose: bool = typer.Option(False, "--verbose",
                                 help="Show llama.cpp's own log on stderr (default: ~/.cache/qaug/llama.log)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N records of the inputs."),
    sample: Optional[int] = typer.Option(None, "--sample", min=1,
                                         help="A uniform sample of N records, seeded by --seed (one streaming pass)."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Print the plan (records, model calls, tokens, "
                                      "time, what the cap lets through) and stop."),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="[ADDRESS]",
                                      help="Compute on Ray actors, each with its own engine: --ray alone "
                                           "starts a local Ray; --ray auto or --ray ray://host:port joins "
                                           "a cluster. Output as without it (pip install 'qaug\\[ray]')."),
    gpus: Optional[str] = typer.Option(None, "--gpus",
                                       help="GPUs of this machine for a local Ray, e.g. 0,1,2,3: one actor per GPU."),
    actors: Optional[int] = typer.Option(None, "--actors", min=1,
                                         help="Ray actors (default: one per GPU; without GPUs one "
                                              "per 8 CPUs for model methods, one per CPU otherwise)."),
) -> None:
    """Augment datasets: originals plus variants to OUTPUT, rejects and a report beside it."""
    from qaug.cli import engine_spec_noted
    from qaug.cli_scale import scale_options, start_executor
    from qaug.launch import prepare, stdout_output
    from qaug.resolve import RunFlags

    output, to_stdout = stdout_output(output, resume, overwrite)
    say = _say if not quiet else None
    launch = prepare(RunFlags(
        inputs=tuple(inputs), output=output, methods=",".join(methods) if methods else None, task=task, seed=seed,
        fmt=fmt, fields=fields, target=target, no_originals=no_originals, strict=strict, variants=variants,
        max_aug_ratio=max_aug_ratio, verify=verify, params=param, null_p=null_p, max_line_mb=max_line_mb,
        window=window, checkpoint_every=checkpoint_every, limit=limit, sample=sample, stdout=to_stdout,
        recipe=recipe,
        model={"gguf": str(gguf) if gguf else None, "models_dir": str(models_dir) if models_dir else None,
               "ctx": ctx, "threads": threads, "n_gpu_layers": n_gpu_layers, "parallel": parallel,
               "chat_template": chat_template, "deterministic": deterministic},
        sampling={"temperature": temperature, "top_p": top_p, "top_k": top_k, "min_p": min_p,
                  "repeat_penalty": repeat_penalty, "max_tokens": max_tokens}),
        resume=resume, task_and_methods=bool(methods and task), gguf=gguf)
    if say is not None:
        _stdout_note(launch.config, to_stdout, dry_run)
        for line in launch.notes:
            say(line)
    scale = scale_options(ray, gpus, actors, threads) if not dry_run else None
    spec = engine = executor = None
    if launch.needs_model and launch.config.engine is not None:
        spec = engine_spec_noted(launch.config.engine, verbose, not no_cache, cache_dir)
        engine = spec.stand_in() if scale is not None else spec.open()  # on Ray the actors open their own
    with _closing(engine, record=not dry_run):
        if scale is not None:
            executor = start_executor(launch.config, spec, scale, launch.needs_model, say)
        with _closing(executor):
            total = _announce_plan(launch, engine, executor, dry_run, say, resume or overwrite)
            if not dry_run:
                _execute(launch, engine, executor, total, resume, overwrite, say, to_stdout)


def _say(msg: str) -> None:
    err_console.print(f"qaug: {msg}", markup=False)


def _stdout_note(config: Any, to_stdout: bool, dry_run: bool) -> None:
    """-o -: where the rejects and the report go instead."""
    if to_stdout and not dry_run:
        _say(f"note: -o -: the output goes to stdout; the rejects to ./{config.rejects_path}, the report "
             f"to ./{config.report_path}")


@contextmanager
def _closing(thing: Any, record: bool = False) -> Iterator[None]:
    """Close an engine or executor (None: nothing) however the block ends; an engine that ran records its speed."""
    try:
        yield
    finally:
        if thing is not None:
            if record:
                from qaug.launch import record_speed

                record_speed(thing)
            thing.close()


def _announce_plan(launch: Any, engine: Any, executor: Any, dry_run: bool, say: Optional[Callable[[str], None]],
                   resume_or_overwrite: bool) -> Optional[int]:
    """The plan: printed in full for --dry-run, one line on stderr before a model run. The records it counts
    (the progress bar's total), or for a pure run, which is not planned, --limit (None: the input's bytes)."""
    from qaug import plan as planning
    from qaug.launch import measured_speed, plan_run
    from qaug.session import existing_output

    if not (launch.needs_model or dry_run):
        return launch.config.limit  # with --limit, the input's bytes would say 39% at the last record
    the_plan, small = plan_run(launch)
    per_call = measured_speed(engine)
    if per_call is not None and executor is not None:  # the actors answer side by side
        per_call /= executor.actors
    if dry_run:
        seconds, probed = planning.seconds_for(the_plan, per_call), None
        if seconds is None and engine is not None and the_plan.model_calls:
            probed = planning.probe_speed(engine)
            seconds = probed.seconds(the_plan)
        print_plan(out_console, the_plan, seconds, small, probed)
        refused = existing_output(launch.config) if not resume_or_overwrite else None
        if refused is not None and say is not None:
            say(f"note: the run would be refused: {refused}")
        return None
    if say is not None or small:  # an input too small for any variant is said even with --quiet
        if small:
            _say(small)
        _say(planning.plan_line(the_plan, planning.seconds_for(the_plan, per_call)))
    return the_plan.records


def _execute(launch: Any, engine: Any, executor: Any, total: Optional[int], resume: bool, overwrite: bool,
             say: Optional[Callable[[str], None]], to_stdout: bool) -> None:
    """The run itself, with progress; then the summary, and a warning when nothing was read."""
    from qaug.pipeline import Pipeline

    config = launch.config
    progress = Progress(err_console, total) if say is not None else None
    try:
        pipeline = Pipeline(config, augmenters=launch.augmenters, progress=progress, engine=engine,
                            executor=executor)
        pipeline.notice = _say
        stats = pipeline.run(resume=resume, overwrite=overwrite)
    finally:
        if progress:
            progress.close()
    if say is not None:
        print_summary(err_console if to_stdout else out_console, stats, config,
                      pipeline.engine_report() if engine is not None else None)
    if stats.records == 0:
        files = f"{stats.file_rejects:,} file{'' if stats.file_rejects == 1 else 's'}"
        hint = "; a wrong --format or --fields?" if stats.input_rejects else ""  # an empty input needs no hint
        _say(f"warning: no records were read ({stats.input_rejects:,} input lines and {files} rejected, see "
             f"{config.rejects_path}){hint}")
