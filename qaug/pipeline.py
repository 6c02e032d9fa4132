"""The generator chain: read -> augment -> gate -> write, with stats and a rejects sink.

Records flow through in windows (so model methods can batch a window's jobs), one input
file at a time; memory holds one window, never the dataset.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Protocol

from qaug import jsonio
from qaug.augment.base import Augmenter, Failure, Outcome, Skip, Variant
from qaug.augment.catalog import registry
from qaug.config import RunConfig
from qaug.errors import Interrupted, RunFailed, UsageError
from qaug import cap
from qaug.readers import ByteCounter, InputReject, read_items
from qaug.writers import is_run_file, quiet_stdout, write_json_atomic
from qaug.journal import Checkpoint
from qaug.provenance import ORIGINAL, output_id, output_line, provenance
from qaug.quality.gates import SiblingGate
from qaug.records import Record
from qaug.report_html import write_report_html
from qaug.rejects import RejectSink
from qaug.report_measures import Measures
from qaug.sample import Selection, sample_positions
from qaug.session import RunSession
from qaug.signals import StopOnSignal
from qaug.scale import Executor, LocalExecutor
from qaug.stats import RunStats, engine_report
from qaug.window import WindowResult


class Progress(Protocol):
    """What a run reports while it goes (the CLI's progress line implements it)."""

    def update(self, records: int, done: int, total: int) -> None:
        """records done, and input bytes done of the total"""

    def answer(self) -> None:
        """a model answer arrived mid-batch: activity, not records"""


class Accepted(NamedTuple):
    """A variant that passed the gates: its method, output id, position among its record's, data and outcome."""

    method: "_Method"
    cid: str
    position: int
    data: bytes
    outcome: Variant


class _InFlight(NamedTuple):
    """A window read and, when it holds records, submitted: where reading stands once it is written."""

    window: list[Record | InputReject]
    submitted: bool
    consumed: int  # items of the file read up to its end (what a checkpoint after it records)
    position: int  # input bytes read, for progress


@dataclass
class _Gated:
    """A record and its variants that passed the gates, waiting for the batch's cap decision."""

    record: Record
    parent_bytes: bytes
    accepted: list[Accepted]


@dataclass
class _Method:
    augmenter: Augmenter
    params_json: str
    model: str | None = None


def build_augmenters(config: RunConfig) -> list[Augmenter]:
    """Instantiate every method with its validated parameters (UsageError on bad ones)."""
    reg = registry()
    out = []
    for name in config.methods:
        if name not in reg:
            raise UsageError(f"unknown method '{name}' (see `qaug methods`)")
        out.append(reg[name](fields=config.fields, target=config.target, **dict(config.method_params.get(name, {}))))
    return out


class Pipeline:
    """One run: owns the writers and counters; `run()` streams every input through."""

    def __init__(self, config: RunConfig, augmenters: list[Augmenter] | None = None,
                 progress: Progress | None = None, engine: Any = None, sampling: Any = None,
                 executor: Executor | None = None) -> None:
        config.validate()
        _refuse_own_files(config)
        self.config = config
        self.methods = [_Method(a, jsonio.dumps_str(a.params())) for a in (augmenters or build_augmenters(config))]
        if config.window is None:  # the same default for a library caller as for the CLI
            self.config = config = replace(config, window=256 if all(m.augmenter.pure for m in self.methods) else 32)
        self.progress = progress
        self.notice: Callable[[str], None] | None = None
        self.stats = RunStats()
        self.engine = engine
        self._budget = 0.0
        self._measures: Measures | None = Measures()  # the HTML report's figures, fed as lines are written
        self._seen_ids: set[int] = set()
        self._last_checkpoint = time.monotonic()
        for m in self.methods:
            self.stats.method(m.augmenter.name)
            if not m.augmenter.pure:
                if engine is None:
                    raise UsageError(f"method {m.augmenter.name} needs a model engine")
                m.augmenter.bind(engine, sampling, verify=config.verify)
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
            start = session.start(session.header({m.augmenter.name: m.augmenter.params() for m in self.methods},
                                                 self.engine.model_id if self.engine is not None else None),
                                  resume, overwrite)
            if start.checkpoint is not None:
                self._restore(start.checkpoint)
            prepared = True
            if start.finished:
                status = "ok"
                self._measures = None  # nothing was fed: the report reads the finished files
                session.finish_format()  # a run stopped between its last line and the array conversion
                return self.stats
            begin = start.position
            session.open_writers(begin)
            assert session.out is not None and session.rej is not None
            self._out = session.out
            if begin is not None:
                # what the lines kept from the earlier run would have fed: same order, so the same sample
                self._measures = Measures.from_files(cfg.output, cfg.rejects_path)
            self._rejects = RejectSink(session.rej, self.stats, self._measures, cfg.strict)
            self._stream_all(begin)
            session.complete()
            status = "ok"
        except Interrupted:
            status = "interrupted"
            raise
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except BrokenPipeError:
            if not cfg.stdout:
                raise RunFailed("cannot write the output (broken pipe); rerun with --resume") from None
            quiet_stdout()
            raise RunFailed("stdout was closed before the run finished (piped into head?); the lines written so far "
                            f"are all there is, the report {cfg.report_path} says how far it got") from None
        except OSError as exc:
            raise RunFailed(f"cannot write the output ({exc.strerror or exc}); fix the cause and rerun with --resume") \
                from None
        finally:
            session.close()
            try:
                if prepared:
                    self._write_report(status)
            finally:
                session.lock.release()
        return self.stats

    def _restore(self, cp: Checkpoint) -> None:
        """The counters, the cap's budget and the engine's counters as the resumed run's last checkpoint left them."""
        try:
            self.stats.restore(cp.stats)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UsageError(f"cannot resume: the counters in the last checkpoint of {self._session.journal.path} are "
                             "not as qaug wrote them (was the journal edited?); rerun with --overwrite") from None
        self._budget = cp.budget
        if self.engine is not None:
            for k, v in cp.engine.items():
                if isinstance(v, (int, float)) and k in self.engine.stats:
                    self.engine.stats[k] += v

    def _write_report(self, status: str) -> None:
        cfg = self.config
        self.stats.finish(status)
        report = self.stats.to_report(cfg.to_dict())
        # parameters as the methods took them (typed, defaults included), for reproduction
        report["config"]["method_params"] = {m.augmenter.name: m.augmenter.params() for m in self.methods}
        if self.engine is not None:
            report["model"] = self.engine_report()
        scale = self.executor.report()
        if scale is not None:
            report["scale"] = scale
        try:
            write_json_atomic(cfg.report_path, report)
            write_report_html(report, cfg.output, cfg.rejects_path, cfg.report_path,  # out.report.html beside it
                              self._measures)
        except OSError as exc:
            if status == "ok":  # otherwise the run's own error is the one to show; the resumed run writes the report
                raise RunFailed(f"every record was written, but the report {cfg.report_path} could not be "
                                f"({exc.strerror or exc}); free some space and rerun with --resume to write it") \
                    from None

    def _due(self) -> bool:
        """Checkpoint after every batch with model work (it is expensive to redo), else every few seconds."""
        if self.engine is not None or self._stopper.requested:
            return True
        return time.monotonic() - self._last_checkpoint >= self.config.checkpoint_every

    def _checkpoint(self, file_index: int, items: int) -> None:
        """Make the window durable, then record it: a unit counts only once its lines are on disk."""
        self._last_checkpoint = time.monotonic()
        self._session.checkpoint(file_index, items, self._budget, self.stats.snapshot(),
                                 dict(self.engine.stats) if self.engine is not None else {})
        if self._stopper.requested:
            raise Interrupted("interrupted: the last batch was finished and saved; continue with --resume")

    def engine_report(self) -> dict[str, Any]:
        """Model time and tokens, for the report and the summary."""
        return engine_report(self.engine)

    # -- streaming --------------------------------------------------------------------------
    def _stream_all(self, start: Checkpoint | None) -> None:
        cfg = self.config
        assert cfg.window is not None  # __init__ sets the default
        total = sum(p.stat().st_size for p in cfg.inputs)
        done_before = 0
        labels = source_labels(cfg.inputs)
        selection = self._selection(labels)
        for file_index, path in enumerate(cfg.inputs):
            size = path.stat().st_size
            if start is not None and file_index < start.file:
                for item in selection.take(file_index, read_items(path, cfg.fmt, cfg.max_line_bytes, None,
                                                                  labels[file_index])):
                    if isinstance(item, Record):  # remember their ids, so duplicates are still caught
                        self._seen_ids.add(_id_hash(item.id))
                done_before += size
                continue
            counters: list[ByteCounter] = []
            items = self._unique_ids(selection.take(file_index, read_items(path, cfg.fmt, cfg.max_line_bytes,
                                                                           counters, labels[file_index])))
            consumed = 0
            if start is not None and file_index == start.file and start.items:
                consumed = sum(1 for _ in itertools.islice(items, start.items))  # covered by the checkpoint
            pending: deque[_InFlight] = deque()
            self._written = (file_index, consumed)
            for window in _windows(items, cfg.window):
                while len(pending) >= self.executor.depth:
                    self._finish(pending.popleft(), file_index, done_before, total)
                records = [it for it in window if isinstance(it, Record)]
                if records:
                    self.executor.submit(records, self._plan_units(records))
                consumed += len(window)
                pending.append(_InFlight(window, bool(records), consumed, counters[0].position() if counters else 0))
            while pending:
                self._finish(pending.popleft(), file_index, done_before, total)
            self._checkpoint(file_index + 1, 0)
            done_before += size
        if self.progress is not None:
            self.progress.update(self.stats.records_done, total, total)

    def _finish(self, entry: "_InFlight", file_index: int, done_before: int, total: int) -> None:
        """The oldest window in flight: wait for its result, write it, checkpoint when due."""
        window, submitted, consumed, pos = entry
        if submitted:
            try:
                result = self.executor.next_result()
            except Interrupted:
                self._checkpoint(*self._written)  # what was written stays resumable; this raises Interrupted
                raise
            self._apply(window, result)
        else:
            self._apply(window, None)
        self._written = (file_index, consumed)
        if self._due():
            self._checkpoint(file_index, consumed)
        if self.progress is not None:
            self.progress.update(self.stats.records_done, done_before + pos, total)

    def _selection(self, labels: list[str]) -> Selection:
        """--limit / --sample: which records of the inputs this run processes (all, without either)."""
        cfg = self.config
        positions = None
        if cfg.sample is not None:
            positions = sample_positions((read_items(p, cfg.fmt, cfg.max_line_bytes, None, label)
                                          for p, label in zip(cfg.inputs, labels)), cfg.sample, cfg.seed, Record)
        return Selection(Record, cfg.limit, positions)

    def _unique_ids(self, items: Iterator[Record | InputReject]) -> Iterator[Record | InputReject]:
        """A second record with an id already seen goes to the rejects file: ids must identify records."""
        seen = self._seen_ids
        for item in items:
            if isinstance(item, Record):
                h = _id_hash(item.id)
                if h in seen:
                    raw = getattr(item, "raw", None)
                    yield InputReject(item.source, item.line,
                                      f"duplicate record id {item.id!r} (the first one was kept)",
                                      raw.decode("utf-8") if raw is not None else jsonio.dumps_str(item.data))
                    continue
                seen.add(h)
            yield item

    def _apply(self, window: list[Record | InputReject], result: WindowResult | None) -> None:
        """Count a computed window's work, then gate, cap and write its records in input order."""
        by_method = result.outcomes if result is not None else {}
        if result is not None:
            for name, w in result.work.items():
                w.add_to(self.stats.method(name))
            if result.worker is not None and self.engine is not None:  # computed by an actor's own engine
                self._merge_engine(result.engine_delta)
            if self.engine is not None and any(not m.augmenter.pure for m in self.methods):
                self.stats.mark_model(int(self.engine.stats.get("completion_tokens", 0)))
        r_index = 0
        gated: list[_Gated] = []
        for item in window:
            self.stats.records_done += 1
            if isinstance(item, InputReject):
                self._rejects.input(item)
                continue
            gated.append(self._gate(item,
                                    {name: res[r_index * self.config.variants:(r_index + 1) * self.config.variants]
                                     for name, res in by_method.items()}))
            r_index += 1
        self._cap(gated)
        for g in gated:
            self._write(g)

    def _merge_engine(self, delta: dict[str, float]) -> None:
        """An actor's engine counters into the run's, as if its answers had been computed here."""
        stats = self.engine.stats
        for k, v in delta.items():
            stats[k] = stats.get(k, 0) + v
        if self.progress is not None:
            for _ in range(int(delta.get("jobs", 0))):  # one per answer, as the engine's listener counts here
                self.progress.answer()

    def _gate(self, record: Record, results: dict[str, list[list[Outcome]]]) -> "_Gated":
        """Count the record, write its failures to the rejects file, and keep what passed the gates."""
        fs = self.stats.file(record.source)
        fs.lines += 1
        fs.records += 1
        parent_bytes = jsonio.dumps(record.data)
        pid = output_id(record.id)
        gate: SiblingGate | None = None
        accepted: list[Accepted] = []
        for m in self.methods:
            name = m.augmenter.name
            ms = self.stats.method(name)
            index = 0
            for outcomes in results.get(name, ()):
                for outcome in outcomes:
                    if isinstance(outcome, Skip):
                        ms.skip(outcome.reason, outcome.code)
                        continue
                    cid = f"{pid}/{name}/{index}"  # child_id(record.id, name, index), the escaping done once
                    index += 1
                    if isinstance(outcome, Failure):
                        self._rejects.variant(record, name, cid, outcome.stage, outcome.reason, outcome.text or "",
                                             code=outcome.code)
                        continue
                    data_bytes = jsonio.dumps(outcome.data)
                    if gate is None:
                        gate = SiblingGate(parent_bytes)
                    reason = gate.check(data_bytes)
                    if reason is not None:
                        self._rejects.variant(record, name, cid, "gate", reason, data_bytes.decode("utf-8"),
                                             code="identical" if reason.startswith("identical") else "duplicate")
                        continue
                    accepted.append(Accepted(m, cid, index - 1, data_bytes, outcome))
                    ms.accepted += 1
        return _Gated(record, parent_bytes, accepted)

    def _write(self, g: "_Gated") -> None:
        """The original, then its variants that passed the gates and the cap (once per record: kept lean)."""
        cfg = self.config
        record = g.record
        source = f"{record.source}:{record.line}"
        pid = output_id(record.id)
        write = self._out.write_raw
        measures = self._measures
        parent_for_report = g.parent_bytes if cfg.keep_originals else None  # as a rebuild from the output sees it
        if cfg.keep_originals:  # as read, where the record was one line of JSON: number text, spacing, escapes kept
            write(output_line(getattr(record, "raw", None) or g.parent_bytes, provenance(
                id=pid, parent=None, method=ORIGINAL, seed=cfg.seed, source=source)))
            self.stats.originals_written += 1
        for m, cid, idx, data_bytes, outcome in g.accepted:
            aug = m.augmenter
            write(output_line(data_bytes, provenance(
                id=cid, parent=pid, method=aug.name, version=aug.version, seed=cfg.seed,
                index=idx, params=m.params_json, source=source, model=m.model, info=outcome.info,
                score=outcome.score, review=outcome.review)))
            self.stats.method(aug.name).written += 1
            self.stats.review_marked += outcome.review
            if measures is not None:
                measures.variant(aug.name, data_bytes, parent_for_report, outcome.info)

    def _plan_units(self, records: list[Record]) -> dict[str, set[int]]:
        """For each model method, the units of this batch worth computing under the cap (qaug.cap);
        a method absent from the answer runs on every unit (pure methods, or no cap)."""
        ratio = self.config.max_aug_ratio
        model = [m for m in self.methods if not m.augmenter.pure]
        if ratio >= 1.0 or not model:
            return {}
        allowed = cap.allowance(self._budget + len(records) * cap.per_original(ratio))
        quota = cap.share_out(allowed, [self.stats.method(m.augmenter.name).written for m in self.methods])
        keys = [f"{rec.id}\0{k}" for rec in records for k in range(self.config.variants)]
        plan = {}
        for m, q in zip(self.methods, quota):
            if m.augmenter.pure:
                continue
            ms = self.stats.method(m.augmenter.name)
            n = cap.units_to_plan(q, ms.tried, ms.accepted, len(keys))
            plan[m.augmenter.name] = cap.pick_units(keys, n, self.config.seed, m.augmenter.name)
        return plan

    def _cap(self, gated: list["_Gated"]) -> None:
        """Keep augmented records within --max-aug-ratio of the output, best-scored variants first.

        Each original earns r/(1-r) variants of budget; the choice is made per batch (--window),
        knowing the whole batch, and unused budget carries over, so the share holds at every batch
        boundary. Where the cap binds, ties between equal scores go to the method with the fewest
        variants in the run so far (across batches and files), then to the earlier record. A variant
        over the cap is counted (per method, `capped`), not written: it is no quality reject.
        """
        ratio = self.config.max_aug_ratio
        if ratio >= 1.0:
            return
        self._budget += len(gated) * cap.per_original(ratio)
        candidates = [(g_i, a_i) for g_i, g in enumerate(gated) for a_i in range(len(g.accepted))]
        allowed = cap.allowance(self._budget)
        if len(candidates) <= allowed:
            self._budget -= len(candidates)
            return
        keep = cap.choose(candidates, allowed,
                          lambda c: gated[c[0]].accepted[c[1]].method.augmenter.name,
                          lambda c: gated[c[0]].accepted[c[1]].outcome.score,
                          {m.augmenter.name: self.stats.method(m.augmenter.name).written for m in self.methods})
        self._budget -= allowed
        for g_i, g in enumerate(gated):
            kept = []
            for a_i, entry in enumerate(g.accepted):
                if (g_i, a_i) in keep:
                    kept.append(entry)
                    continue
                self.stats.cap_dropped += 1
                self.stats.method(entry.method.augmenter.name).capped += 1
            g.accepted = kept


def _refuse_own_files(config: RunConfig) -> None:
    """An input that is one of the run's own files (the lock included) would be overwritten or removed: refuse it."""
    for path in config.inputs:
        what = is_run_file(path, config.output)
        if what is not None:
            raise UsageError(f"input {path} is this run's {what} (written beside -o {config.output.name}); "
                             "choose another -o")


def _id_hash(record_id: str) -> int:
    """8 bytes per id: a million records cost tens of MB, not the ids themselves."""
    return int.from_bytes(hashlib.blake2b(record_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def source_labels(inputs: tuple[Any, ...]) -> list[str]:
    """How each input is named in ids and rejects: its file name, or its path where two names clash."""
    names = [p.name for p in inputs]
    return [p.name if names.count(p.name) == 1 else str(p) for p in inputs]


def _windows(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while True:
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield chunk

