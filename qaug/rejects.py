"""The rejects sink: every input line or candidate that does not make it, with its stage and reason.

One line in `out.rejects.jsonl` per reject, counted in the run's stats (by file, stage, method and
reason code) and in the HTML report's figures; `--strict` turns the first one into a failed run.
Nothing that enters a run leaves it without a line here or in the output.
"""

from __future__ import annotations

from qaug.errors import RunFailed
from qaug.provenance import output_id
from qaug.readers import InputReject
from qaug.records import Record
from qaug.report_measures import Measures
from qaug.stats import RunStats, reason_code
from qaug.writers import JsonlWriter


class RejectSink:
    """Writes and counts rejects; `measures` is None when the report reads them back from the files."""

    def __init__(self, writer: JsonlWriter, stats: RunStats, measures: Measures | None, strict: bool) -> None:
        self.writer, self.stats, self.measures, self.strict = writer, stats, measures, strict

    def input(self, item: InputReject) -> None:
        """A line (or a whole file) that could not be read as a record."""
        fs = self.stats.file(item.source)
        if item.line is None:
            fs.file_rejects += 1
        else:
            fs.lines += 1
            fs.rejects += 1
        code = reason_code(item.reason)
        self.stats.reject("read", item.reason, code)
        self.writer.write({"source": item.source, "line": item.line, "parent": None, "method": None,
                           "stage": "read", "code": code, "reason": item.reason, "raw": item.raw,
                           "truncated": item.truncated})
        if self.strict:
            where = f"{item.source}:{item.line}" if item.line is not None else item.source
            raise RunFailed(f"{where}: {item.reason} (--strict)")

    def variant(self, record: Record, method: str, cid: str, stage: str, reason: str, raw: str,
                code: str = "") -> None:
        """A candidate of `method` for `record` that failed or was gated out."""
        code = code or reason_code(reason)
        self.stats.method(method).reject(reason, code)
        self.stats.reject(stage, reason, code)
        self.writer.write({"source": record.source, "line": record.line, "parent": output_id(record.id),
                           "method": method, "stage": stage, "code": code, "reason": reason, "raw": raw,
                           "truncated": False})
        if self.measures is not None:
            self.measures.reject(code, reason)
        if self.strict:
            raise RunFailed(f"{record.source}:{record.line}: {method} variant {cid} rejected: {reason} (--strict)")
