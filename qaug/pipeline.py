"""The generator chain: read -> augment -> gate -> cap -> write, one window of records at a time.

Memory holds one window (a few, with a pool of actors), never the dataset. What is read is qaug.run_input's,
how a window is computed qaug.window's (here, or on Ray actors: qaug.scale), how a record is gated and
written qaug.record_flow's, the cap qaug.cap's, and the lock, journal and resume qaug.session's. The Pipeline
holds them together: it writes windows in input order, checkpoints what was written, and reports.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NamedTuple, Protocol

from qaug import jsonio
from qaug.augment.base import Augmenter
from qaug.augment.catalog import build_augmenters
from qaug.cap import RunCap
from qaug.config import RunConfig
from qaug.errors import Interrupted, UsageError
from qaug.journal import Checkpoint
from qaug.llm.engine import Sampling
from qaug.readers import InputReject
from qaug.record_flow import Method, RecordFlow
from qaug.records import Record
from qaug.rejects import RejectSink
from qaug.report_measures import Measures
from qaug.run_input import InputFile, RunInput
from qaug.scale import Executor, LocalExecutor
from qaug.session import RunSession, refuse_own_files
from qaug.signals import StopOnSignal
from qaug.stats import RunStats, engine_report
from qaug.window import WindowResult


class Progress(Protocol):
    """What a run reports while it goes (the CLI's progress line implements it)."""

    def update(self, records: int, done: int, total: int) -> None:
        """records done, and input bytes done of the total"""

    def answer(self) -> None:
        """a model answer arrived mid-batch: activity, not records"""


class _InFlight(NamedTuple):
    """A window read and, when it holds records, submitted: where reading stands once it is written."""

    window: list[Record | InputReject]
    submitted: bool
    consumed: int  # items of the file read up to its end (what a checkpoint after it records)
    position: int  # input bytes read, for progress


class Pipeline:
    """One run: owns the writers and counters; `run()` streams every input through."""

    def __init__(self, config: RunConfig, augmenters: list[Augmenter] | None = None,
                 progress: Progress | None = None, engine: Any = None,
                 executor: Executor | None = None) -> None:
        config.validate()
        refuse_own_files(config)
        self.config = config
        self.methods = [Method(a, jsonio.dumps_str(a.params())) for a in (augmenters or build_augmenters(config))]
        if config.window is None:  # the same default for a library caller as for the CLI
            self.config = config = replace(config, window=256 if all(m.augmenter.pure for m in self.methods) else 32)
        if config.sampling is None and not all(m.augmenter.pure for m in self.methods):
            self.config = config = replace(config, sampling=Sampling())  # what runs is what the report says
        self.progress = progress
        self.notice: Callable[[str], None] | None = None
        self.stats = RunStats()
        self.engine = engine
        self._cap = RunCap(config.max_aug_ratio, config.seed, config.variants)
        self._measures: Measures | None = Measures()  # the HTML report's figures, fed as lines are written
        self._last_checkpoint = time.monotonic()
        for m in self.methods:
            self.stats.method(m.augmenter.name)
            if not m.augmenter.pure:
                if engine is None:
                    raise UsageError(f"method {m.augmenter.name} needs a model engine")
                m.augmenter.bind(engine, config.sampling or Sampling(), verify=config.verify)  # set above
                m.model = engine.model_id
        if engine is not None and progress is not None:
            engine.listener = lambda _result: progress.answer()
        #: where windows are computed: here (default), or on Ray actors (qaug.scale)
        self.executor: Executor = executor or LocalExecutor([m.augmenter for m in self.methods], config.seed,
                                                             config.variants, engine)

    def run(self, resume: bool = False, overwrite: bool = False) -> RunStats:
        """Process every input; writes output, rejects, journal and report. Raises on a failed run.

        resume: continue an interrupted run of the same configuration into the same output.
        overwrite: replace an existing output. Without either, an existing output is refused.
        """
        with StopOnSignal(self) as stopper:  # from the lock to the report: a signal never cuts a write
            self._stopper = stopper
            self.executor.stopping = lambda: stopper.requested
            return self._run(resume, overwrite)

    def _run(self, resume: bool, overwrite: bool) -> RunStats:
        cfg = self.config
        session = self._session = RunSession(cfg)
        session.acquire()
        status = "failed"
        prepared = False  # a refused start (output exists, options differ) must not touch the earlier run's report
        try:
            with session.writing():
                start = session.start(session.header({m.augmenter.name: m.augmenter.params() for m in self.methods},
                                                     self.engine.model_id if self.engine is not None else None),
                                      resume, overwrite)
                if start.checkpoint is not None:
                    self._restore(start.checkpoint)
                prepared = True
                if start.finished:
                    self._measures = None  # nothing was fed: the report reads the finished files
                    session.finish_format()  # a run stopped between its last line and the array conversion
                else:
                    self._stream(start.position)
                status = "ok"
        except (Interrupted, KeyboardInterrupt):
            status = "interrupted"
            raise
        finally:
            session.close()
            try:
                if prepared:
                    session.write_report(self._report(status), self._measures, status)
            finally:
                session.lock.release()
        return self.stats

    def _stream(self, begin: Checkpoint | None) -> None:
        """Open the writers where the run begins, stream every input through, and complete the files."""
        cfg, session = self.config, self._session
        session.open_writers(begin)
        assert session.out is not None and session.rej is not None
        if begin is not None:
            # what the lines kept from the earlier run would have fed: same order, so the same sample
            self._measures = Measures.from_files(cfg.output, cfg.rejects_path)
        self._rejects = RejectSink(session.rej, self.stats, self._measures, cfg.strict)
        self._flow = RecordFlow(cfg, self.methods, self.stats, self._rejects, session.out, self._measures)
        self._stream_all(begin)
        session.complete()

    def _restore(self, cp: Checkpoint) -> None:
        """The counters, the cap's budget and the engine's counters as the resumed run's last checkpoint left them."""
        try:
            self.stats.restore(cp.stats)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UsageError(f"cannot resume: the counters in the last checkpoint of {self._session.journal.path} are "
                             "not as qaug wrote them (was the journal edited?); rerun with --overwrite") from None
        self._cap.budget = cp.budget
        if self.engine is not None:
            self.engine.stats.add(cp.engine)

    def _report(self, status: str) -> dict[str, Any]:
        """out.report.json's content: the counters, the configuration as the methods took it, model and scale."""
        self.stats.finish(status)
        report = self.stats.to_report(self.config.to_dict())
        # parameters as the methods took them (typed, defaults included), for reproduction
        report["config"]["method_params"] = {m.augmenter.name: m.augmenter.params() for m in self.methods}
        if self.engine is not None:
            report["model"] = self.engine_report()
        scale = self.executor.report()
        if scale is not None:
            report["scale"] = scale
        return report

    def _due(self) -> bool:
        """Checkpoint after every batch with model work (it is expensive to redo), else every few seconds."""
        if self.engine is not None or self._stopper.requested:
            return True
        return time.monotonic() - self._last_checkpoint >= self.config.checkpoint_every

    def _checkpoint(self, file_index: int, items: int) -> None:
        """Make the window durable, then record it: a unit counts only once its lines are on disk."""
        self._last_checkpoint = time.monotonic()
        self._session.checkpoint(file_index, items, self._cap.budget, self.stats.snapshot(),
                                 self.engine.stats.numbers() if self.engine is not None else {})
        if self._stopper.requested:
            raise Interrupted(f"interrupted: the last batch was finished and saved; {self.config.how_to_continue()}")

    def engine_report(self) -> dict[str, Any]:
        """Model time and tokens, for the report and the summary."""
        return engine_report(self.engine)

    # -- streaming --------------------------------------------------------------------------
    def _stream_all(self, start: Checkpoint | None) -> None:
        assert self.config.window is not None  # __init__ sets the default
        run_input = RunInput(self.config)
        total = run_input.total_bytes
        for f in run_input.files(start, self.config.window):
            pending: deque[_InFlight] = deque()
            consumed = f.consumed
            self._written = (f.index, consumed)
            for window in f.windows:
                while len(pending) >= self.executor.depth:
                    self._finish(pending.popleft(), f, total)
                records = [it for it in window if isinstance(it, Record)]
                if records:
                    self.executor.submit(records, self._cap.plan_units(records, self.methods, self.stats))
                consumed += len(window)
                pending.append(_InFlight(window, bool(records), consumed, f.position()))
            while pending:
                self._finish(pending.popleft(), f, total)
            self._checkpoint(f.index + 1, 0)
        if self.progress is not None:
            self.progress.update(self.stats.records_done, total, total)

    def _finish(self, entry: _InFlight, f: InputFile, total: int) -> None:
        """The oldest window in flight: wait for its result, write it, checkpoint when due."""
        window, submitted, consumed, pos = entry
        result = None
        if submitted:
            try:
                result = self.executor.next_result()
            except Interrupted:
                self._checkpoint(*self._written)  # what was written stays resumable; this raises Interrupted
                raise
        self._apply(window, result)
        self._written = (f.index, consumed)
        if self._due():
            self._checkpoint(f.index, consumed)
        if self.progress is not None:
            self.progress.update(self.stats.records_done, f.done_before + pos, total)

    def _apply(self, window: list[Record | InputReject], result: WindowResult | None) -> None:
        """Count a computed window's work, then gate, cap and write its records in input order."""
        by_method = result.outcomes if result is not None else {}
        if result is not None:
            for name, w in result.work.items():
                w.add_to(self.stats.method(name))
            if result.worker is not None and self.engine is not None:  # computed by an actor's own engine
                self._merge_engine(result.engine_delta)
            if self.engine is not None and any(not m.augmenter.pure for m in self.methods):
                self.stats.mark_model(self.engine.stats.completion_tokens)
        self._flow.window(window, by_method, self._cap)

    def _merge_engine(self, delta: dict[str, float]) -> None:
        """An actor's engine counters into the run's, as if its answers had been computed here."""
        self.engine.stats.add(delta)
        if self.progress is not None:
            for _ in range(int(delta.get("jobs", 0))):  # one per answer, as the engine's listener counts here
                self.progress.answer()
