"""A record's way out: its counts, its variants through the sibling gate, failures to the rejects file, the
cap's choice among the window's accepted variants, and the kept lines written. The pipeline hands over each
computed window in input order (`window`); nothing here knows about files, reading or checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from qaug import jsonio
from qaug.augment.base import Augmenter, Failure, Outcome, Skip, Variant
from qaug.cap import RunCap
from qaug.config import RunConfig
from qaug.provenance import ORIGINAL, output_id, output_line, provenance
from qaug.quality.gates import SiblingGate
from qaug.readers import InputReject
from qaug.records import Record
from qaug.rejects import RejectSink
from qaug.report_measures import Measures
from qaug.stats import RunStats


@dataclass
class Method:
    """A method of the run, with what every line it writes records: its parameters, and the model it used."""

    augmenter: Augmenter
    params_json: str
    model: str | None = None


class Accepted(NamedTuple):
    """A variant that passed the gates: its method, output id, position among its record's, data and outcome."""

    method: Method
    cid: str
    position: int
    data: bytes
    outcome: Variant


@dataclass
class Gated:
    """A record and its variants that passed the gates, waiting for the batch's cap decision."""

    record: Record
    parent_bytes: bytes
    accepted: list[Accepted]


class RecordFlow:
    """Gate and write records, counting into the run's stats; failures and gate rejects go to `rejects`."""

    def __init__(self, config: RunConfig, methods: list[Method], stats: RunStats, rejects: RejectSink,
                 out: Any, measures: Measures | None) -> None:
        self.config, self.methods, self.stats = config, methods, stats
        self.rejects, self.out, self.measures = rejects, out, measures

    def window(self, items: list[Record | InputReject], outcomes: dict[str, list[list[Outcome]]], cap: RunCap) -> None:
        """A window's items in input order: input rejects to the rejects file, records gated; then the cap
        chooses among the window's accepted variants, and every record is written with the ones it kept.
        `outcomes` holds, per method, `variants` units for each record of the window (empty: none computed)."""
        n = self.config.variants
        gated: list[Gated] = []
        r_index = 0
        for item in items:
            self.stats.records_done += 1
            if isinstance(item, InputReject):
                self.rejects.input(item)
                continue
            gated.append(self.gate(item, {name: res[r_index * n:(r_index + 1) * n] for name, res in outcomes.items()}))
            r_index += 1
        cap.apply(gated, self.methods, self.stats)
        for g in gated:
            self.write(g)

    def gate(self, record: Record, results: dict[str, list[list[Outcome]]]) -> Gated:
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
                        self.rejects.variant(record, name, cid, outcome.stage, outcome.reason, outcome.text or "",
                                             code=outcome.code)
                        continue
                    data_bytes = jsonio.dumps(outcome.data)
                    if gate is None:
                        gate = SiblingGate(parent_bytes)
                    reason = gate.check(data_bytes)
                    if reason is not None:
                        self.rejects.variant(record, name, cid, "gate", reason, data_bytes.decode("utf-8"),
                                             code="identical" if reason.startswith("identical") else "duplicate")
                        continue
                    accepted.append(Accepted(m, cid, index - 1, data_bytes, outcome))
                    ms.accepted += 1
        return Gated(record, parent_bytes, accepted)

    def write(self, g: Gated) -> None:
        """The original, then its variants that passed the gates and the cap (once per record: kept lean)."""
        cfg = self.config
        record = g.record
        source = f"{record.source}:{record.line}"
        pid = output_id(record.id)
        write = self.out.write_raw
        measures = self.measures
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
