"""A run's lifecycle around its record flow: the output lock, the journal, resume, the files' last form.

The pipeline decides what is written; the session decides when a run may start (the lock, a refused
resume), where it starts (the last checkpoint, with the files cut back to it) and what makes a unit
count (its lines fsynced, then recorded in the journal). Keeping these apart from the record flow is
what lets the flow be read, and changed, on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from qaug import faults
from qaug.config import RunConfig
from qaug.errors import RunFailed, UsageError
from qaug.journal import (Checkpoint, Journal, JournalError, comparable, describe_differences, differences,
                          file_digest)
from qaug.lock import OutputLock
from qaug.outformat import jsonl_to_array, wants_array
from qaug.report_html import write_report_html
from qaug.report_measures import Measures
from qaug.writers import JsonlWriter, StdoutWriter, is_run_file, journal_path, quiet_stdout, write_json_atomic

#: settings that may differ between a run and its resume: they change how fast, not what, is written (model
#: answers already computed come from the cache), or name what is compared elsewhere (the model by its sha256,
#: a recipe by the settings it gave)
RESUMABLE_CHANGES = {"checkpoint_every", "recipe", "model.threads", "model.parallel", "model.gguf",
                     "model.models_dir"}



@dataclass(frozen=True)
class Start:
    """Where a run begins: fresh, from the journal's last checkpoint, or already finished."""

    #: the last checkpoint of the run resumed (None: a fresh start, or a resume before its first checkpoint)
    checkpoint: Checkpoint | None = None
    resumed: bool = False
    finished: bool = False

    @property
    def position(self) -> Checkpoint | None:
        """Where reading resumes and the files are cut to; None for a fresh start."""
        if self.checkpoint is None and self.resumed:
            return Checkpoint(0, 0, 0, 0, 0.0, {}, {})
        return self.checkpoint


class RunSession:
    """Lock, journal and writers of one run into `config.output`; see the module docstring."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.journal = Journal(journal_path(config.output))
        self.lock = OutputLock(config.output)
        self.out: JsonlWriter | StdoutWriter | None = None
        self.rej: JsonlWriter | None = None

    def header(self, method_params: dict[str, Any], model: str | None) -> dict[str, Any]:
        """What a resume must match: the configuration (parameters typed, defaults in), inputs, model."""
        config = self.config.to_dict()
        config["method_params"] = method_params
        return {"config": config, "inputs": [{"path": str(p), "sha256": file_digest(p)} for p in self.config.inputs],
                "model": model}

    def acquire(self) -> None:
        """Make the output's folder and take its lock (a second run into the same output is refused)."""
        cfg = self.config
        try:
            cfg.output.parent.mkdir(parents=True, exist_ok=True)  # a new folder for the output is made, not refused
        except OSError as exc:
            raise UsageError(f"cannot make the output folder {cfg.output.parent}: {exc.strerror or exc}") from None
        self.lock.acquire()

    def start(self, header: dict[str, Any], resume: bool, overwrite: bool) -> Start:
        """Where the run begins; a refused start (output exists, options differ) raises UsageError."""
        cfg = self.config
        journal = self.journal
        if resume and journal.path.exists() and cfg.output.exists():
            try:
                old, cp, finished = journal.load()
            except JournalError as exc:
                raise UsageError(f"cannot resume: {exc}; rerun with --overwrite") from None
            check_same_run(old, header)
            if cp is not None and not finished:  # a finished -o out.parquet was rewritten: its size is not the cp's
                self._check_lengths(cp)
            if finished:
                return Start(cp, resumed=True, finished=True)
            journal.reopen()
            return Start(cp, resumed=True)
        refused = existing_output(cfg) if not overwrite and not resume else None
        if refused is not None:
            raise UsageError(refused)
        if cfg.output.exists() and resume and not journal.path.exists():
            raise UsageError(f"{cfg.output} exists but has no run journal to resume from; use --overwrite")
        journal.start(header)
        return Start()

    def open_writers(self, start: Checkpoint | None) -> None:
        """The output and rejects files, cut back to the checkpoint's lengths when the run resumes."""
        cfg = self.config
        mode = "r+b" if start is not None else "wb"
        self.out = StdoutWriter() if cfg.stdout else JsonlWriter(cfg.output, mode)
        self.rej = JsonlWriter(cfg.rejects_path, "wb" if start is not None and not start.rej
                               and not cfg.rejects_path.exists() else mode)
        if start is not None:
            self.out.truncate(start.out)
            self.rej.truncate(start.rej)

    def checkpoint(self, file_index: int, items: int, budget: float, stats: dict[str, Any],
                   engine: dict[str, Any]) -> None:
        """Make what was written durable, then record it: a unit counts only once its lines are on disk."""
        assert self.out is not None and self.rej is not None
        out_len, rej_len = self.out.sync(), self.rej.sync()
        faults.point("fsync")
        self.journal.checkpoint(Checkpoint(file_index, items, out_len, rej_len, budget, stats, engine))
        faults.point("checkpoint")

    def complete(self) -> None:
        """Every input done: close the output, mark the journal finished, give the output its last form."""
        assert self.out is not None
        self.out.close()
        self.journal.finish()
        self.finish_format()

    def finish_format(self) -> None:
        """-o out.json: the finished JSON Lines become a JSON array (qaug.outformat); .parquet likewise."""
        cfg = self.config
        if wants_array(cfg.output) and not cfg.stdout:
            jsonl_to_array(cfg.output)
        elif cfg.output.name.lower().endswith(".parquet") and not cfg.stdout:
            from qaug.parquet_io import jsonl_to_parquet  # pyarrow only when asked for

            jsonl_to_parquet(cfg.output)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """A write that fails (a full disk, a closed pipe) as one line that says how to go on."""
        cfg = self.config
        try:
            yield
        except BrokenPipeError:
            if not cfg.stdout:
                raise RunFailed(f"cannot write the output (broken pipe); {cfg.rerun_hint()}") from None
            quiet_stdout()
            raise RunFailed("stdout was closed before the run finished (piped into head?); the lines written so far "
                            f"are all there is, the report {cfg.report_path} says how far it got") from None
        except OSError as exc:
            raise RunFailed(f"cannot write the output ({exc.strerror or exc}); fix the cause and "
                            + cfg.rerun_hint()) from None

    def write_report(self, report: dict[str, Any], measures: Measures | None, status: str) -> None:
        """out.report.json, and out.report.html beside it. Failing to write them fails a run only where nothing
        else did: otherwise the run's own error is the one to show, and the resumed run writes the report."""
        cfg = self.config
        try:
            write_json_atomic(cfg.report_path, report)
            write_report_html(report, cfg.output, cfg.rejects_path, cfg.report_path, measures)
        except OSError as exc:
            if status == "ok":
                raise RunFailed(f"every record was written, but the report {cfg.report_path} could not be "
                                f"({exc.strerror or exc}); free some space and "
                                + cfg.rerun_hint(" to write it")) from None

    def close(self) -> None:
        """Close the files however the run ended; a failed flush is left to the last checkpoint."""
        for closing in (self.out, self.rej, self.journal):
            try:
                if closing is not None:
                    closing.close()
            except OSError:
                pass  # a failed flush: the journal's last checkpoint still says what is safely written

    def _check_lengths(self, cp: Checkpoint) -> None:
        """A file cut below what its checkpoint says is on disk lost lines: refuse, never pad it."""
        cfg = self.config
        for path, want, what in ((cfg.output, cp.out, "output"), (cfg.rejects_path, cp.rej, "rejects file")):
            size = path.stat().st_size if path.exists() else 0
            if size < want:
                raise UsageError(f"cannot resume: the {what} {path} is {size:,} bytes, shorter than the {want:,} "
                                 "bytes its last checkpoint recorded (it was cut or replaced since); "
                                 "rerun with --overwrite")


def check_same_run(old: dict[str, Any], new: dict[str, Any]) -> None:
    """A resume continues the same run: same settings (speed-only ones aside), same inputs, same model."""
    diff = [d for d in differences(comparable(old["config"]), comparable(new["config"]))
            if d not in RESUMABLE_CHANGES]
    if diff:
        shown = describe_differences(comparable(old["config"]), comparable(new["config"]), diff)
        raise UsageError(f"cannot resume: the configuration differs in {shown}; "
                         "rerun with the same options, or --overwrite")
    for a, b in zip(old.get("inputs", []), new["inputs"]):
        if a["sha256"] != b["sha256"]:
            raise UsageError(f"cannot resume: input {b['path']} changed since the run started (sha256 differs)")
    if old.get("model") != new["model"]:
        raise UsageError(f"cannot resume: the model changed ({old.get('model')} -> {new['model']})")


def refuse_own_files(config: RunConfig) -> None:
    """An input that is one of the run's own files (the lock included) would be overwritten or removed: refuse it."""
    for path in config.inputs:
        what = is_run_file(path, config.output)
        if what is not None:
            raise UsageError(f"input {path} is this run's {what} (written beside -o {config.output.name}); "
                             "choose another -o")


def existing_output(config: RunConfig) -> str | None:
    """Why a run that neither resumes nor overwrites would be refused: an earlier run's output or, for -o -,
    its rejects or report in the current folder. None where nothing is in the way."""
    if config.stdout:
        earlier = [p for p in (config.rejects_path, config.report_path) if p.exists()]
        return (f"-o -: ./{earlier[0]} is an earlier run's; pass --overwrite to replace it, or run from another "
                "folder") if earlier else None
    if not config.output.exists():
        return None
    if not config.resumable:
        return (f"{config.output} exists: pass --overwrite to replace it (a run from stdin or a pipe cannot be "
                "continued with --resume)")
    return f"{config.output} exists: pass --resume to continue that run or --overwrite to replace it"

