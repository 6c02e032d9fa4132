"""What the run command prints for a person: the progress line, the summary table, the --dry-run plan.

A CLI-level module (rich is imported here, as in qaug/cli.py); the numbers come from RunStats and RunPlan.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from typing import Any, Optional

from rich.console import Console
from rich.table import Table

from qaug.plan import counted, format_seconds


def print_table(console: Console, table: Table) -> None:
    """A table on a terminal as rich draws it; into a pipe or file without the padding to the full width."""
    if console.is_terminal:
        console.print(table)
        return
    with console.capture() as captured:
        console.print(table)
    text = "\n".join(line.rstrip() for line in captured.get().splitlines())
    console.file.write(text + "\n")
    console.file.flush()


def rate_text(records: int, seconds: float) -> str:
    """' (12 records/s)', or '' where no rate means anything: nothing processed, or too short to time."""
    if records <= 0 or seconds < 0.05:
        return ""
    rate = records / seconds
    shown = f"{rate:,.0f}" if rate >= 100 else f"{rate:.2f}"  # model runs: a fraction of a record per second
    return f" ({shown} records/s)"


class Progress:
    """rich progress on a terminal; a plain line every few seconds otherwise.

    No rate and no ETA before the first batch has ended (an ETA of 0 s then would be a lie); the total is
    the number of records where the plan counted them, else the input's bytes (shown as a percentage).
    """

    def __init__(self, console: Console, total_records: int | None = None) -> None:
        self.console = console
        self.total_records = total_records
        self.start = time.time()
        self.last_plain = time.time()  # the first plain line after a few seconds, not at once
        self.answers = self.last_done = self.last_total = self.last_records = self.last_records_seen = 0
        self.rich = None
        if console.is_terminal:
            from rich.progress import BarColumn, Progress as RichProgress, TextColumn

            self.rich = RichProgress(TextColumn("[bold]augmenting"), BarColumn(), TextColumn("{task.fields[line]}"),
                                     console=console, transient=True)
            self.task = self.rich.add_task("run", total=None, line=self._line(0, 0, 0))
            self.rich.start()

    def _line(self, records: int, done: int, total: int) -> str:
        """'120/1,000 records · 3 model answers · 4.2 rec/s · ETA 3 min' (rate and ETA once a batch ended)."""
        elapsed = max(time.time() - self.start, 1e-9)
        if self.total_records is not None:
            parts = [f"{records:,}/{self.total_records:,} records"]
        else:
            pct = f" ({100.0 * done / total:.0f}% of input)" if total else ""
            parts = [f"{records:,} record{'' if records == 1 else 's'}{pct}"]
        if self.answers:
            parts.append(f"{self.answers:,} model answer{'' if self.answers == 1 else 's'}")
        if records > 0:
            parts.append(f"{records / elapsed:,.1f} rec/s")
            if self.total_records:
                left = max(self.total_records - records, 0)
                if left:
                    parts.append(f"ETA {format_seconds(elapsed / records * left)}")
            elif done and total and done < total:
                parts.append(f"ETA {format_seconds(elapsed / done * (total - done))}")
        else:
            parts.append("first batch running")
        return " · ".join(parts)

    def answer(self) -> None:
        """A model answer arrived mid-batch: shown as activity, not as records."""
        self.answers += 1
        self._show(self.last_records_seen, self.last_done, self.last_total)

    def update(self, records: int, done: int, total: int) -> None:
        self.last_done, self.last_total, self.last_records_seen = done, total, records
        self._show(records, done, total)

    def _show(self, records: int, done: int, total: int) -> None:
        line = self._line(records, done, total)
        if self.rich is not None:
            if self.total_records:
                self.rich.update(self.task, completed=records, total=self.total_records, line=line)
            else:
                self.rich.update(self.task, completed=done, total=total or None, line=line)
            return
        now = time.time()
        if now - self.last_plain >= 5.0 or (total and done >= total and records != self.last_records):
            self.last_plain = now
            self.last_records = records
            print(f"qaug: {line}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.rich is not None:
            self.rich.stop()


def print_summary(out_console: Console, stats: Any, config: Any, model: dict[str, Any] | None = None) -> None:
    """The run's table and totals, for a person (the report has the same numbers for a program)."""
    table = Table(title="qaug run", title_justify="left", box=None, pad_edge=False)
    table.add_column("", style="bold")
    table.add_column("written", justify="right")
    table.add_column("rejected", justify="right")
    capped = config.max_aug_ratio < 1.0
    if capped:
        table.add_column("over cap", justify="right")
    table.add_column("reasons")
    table.add_row("originals", f"{stats.originals_written:,}", f"{stats.input_rejects + stats.file_rejects:,}",
                  *(["-"] if capped else []),
                  reason_list(stats.rejects_by_stage.get("read", Counter()), stats.examples))
    for name, ms in stats.methods.items():
        reasons = reason_list(ms.rejected, ms.examples)
        skipped = sum(ms.skipped.values())
        if skipped:
            reasons = ((reasons + "; " if reasons else "") + f"skipped {skipped:,}: "
                       + reason_list(ms.skipped, ms.examples))
        table.add_row(name, f"{ms.written:,}", f"{sum(ms.rejected.values()):,}",
                      *([f"{ms.capped:,}"] if capped else []), reasons)
    print_table(out_console, table)
    for name, ms in stats.methods.items():
        j = ms.judge
        if j.get("jobs"):
            out_console.print(f"judge on {name}: {counted(j['jobs'], 'variant')} judged "
                              f"({j.get('cached', 0):,} cached), "
                              f"{j.get('prompt_tokens', 0):,} prompt + {j.get('completion_tokens', 0):,} generated "
                              f"tokens, {j.get('seconds_ms', 0) / 1000:,.1f} s", markup=False)
        if j.get("support_pairs"):
            out_console.print(f"support check on {name}: {counted(j['support_pairs'], 'variant')} scored, "
                              f"{j.get('support_seconds_ms', 0) / 1000:,.1f} s", markup=False)
        if j.get("support_unavailable"):
            out_console.print(f"support check on {name}: skipped for {j['support_unavailable']:,} variants "
                              "(this engine cannot score texts)", markup=False)
    unplanned = sum(ms.not_planned for ms in stats.methods.values())
    if capped and (stats.cap_dropped or unplanned):
        kept = stats.variants_written
        skipped = (f"; {unplanned:,} model units were not computed: the cap plans a batch's model work for the "
                   "variants it expects to keep, from the reject rate so far" if unplanned else "")
        out_console.print(f"--max-aug-ratio {config.max_aug_ratio:g}: kept {kept:,} of {kept + stats.cap_dropped:,} "
                          f"accepted variants ({stats.cap_dropped:,} over the cap, counted, not written: not quality "
                          f"rejects{skipped}; 1 disables the cap)", markup=False)
    if stats.review_marked:
        out_console.print(f"{stats.review_marked:,} variants marked _qaug.review = true for a person to check")
    out_console.print(
        f"{stats.input_lines:,} input lines -> {stats.originals_written + stats.variants_written:,} lines "
        f"in {stats.elapsed:.1f}s"
        f"{rate_text(stats.records_done - stats.resumed_records if stats.records else 0, stats.elapsed)}",
        markup=False)
    if stats.resumed_records:
        this_run = stats.records_done - stats.resumed_records
        out_console.print(f"resumed: {stats.resumed_records:,} input lines were done before; "
                          + (f"{this_run:,} processed in this run" if this_run
                             else "the run had finished: nothing was left"),
                          markup=False)
    if model:
        cached = f", {model.get('cached', 0):,} read from the cache, {model.get('computed', 0):,} computed" \
            if model.get("cached") or model.get("computed") else ""
        out_console.print(f"model {model['model']}: {model['jobs']:,} answers, {model['attempts']:,} attempts{cached}; "
                          f"{model['prompt_tokens']:,} prompt + {model['completion_tokens']:,} generated tokens "
                          f"in {model['seconds']:.1f}s of model time ({model['completion_tokens_per_s'] or 0:,.1f} "
                          "generated tokens/s)")
    shown = "- (stdout)" if getattr(config, "stdout", False) else config.output
    out_console.print(f"output  {shown}\nrejects {config.rejects_path}\nreport  {config.report_path}", markup=False)


def reason_list(counter: Any, examples: dict[str, str], top: int = 3) -> str:
    """The commonest reasons, each shown by a real example, and how many kinds were left out."""
    shown = []
    for key, n in counter.most_common(top):
        text = examples.get(key, key)
        text = text if len(text) <= 60 else text[:59] + "…"
        if re.fullmatch(r"[a-z0-9_]+", key) and text != key:  # a code: name it, with one real case
            shown.append(f"{key} {n:,} (e.g. {text})")
        else:
            shown.append(f"{text} ({n:,}{' like this' if text != key else ''})")
    rest = len(counter) - top
    return ", ".join(shown) + (f", +{rest} more kinds (see the report)" if rest > 0 else "")


def print_plan(out_console: Console, the_plan: Any, seconds: Optional[float], small: Optional[str],
               probed: Any = None) -> None:
    """--dry-run: the plan, one fact a line, on stdout."""
    from qaug.plan import format_seconds

    p = the_plan
    out_console.print(f"records: {p.records:,}"
                      + (f" ({p.rejects:,} input lines would be rejects)" if p.rejects else "")
                      + (" - " + ", ".join(f"{f} {n:,}" for f, n in p.formats.most_common()) if p.formats else ""),
                      markup=False)
    for m in p.methods:
        if m.pure:
            out_console.print(f"{m.name}: {m.units:,} units, no model", markup=False)
        else:
            support = f" + {m.support_scorings:,} support scorings" if m.support_scorings else ""
            out_console.print(f"{m.name}: {m.units:,} units, {m.calls:,} model calls + "
                              f"{m.judge_calls:,} judge calls{support}, "
                              f"about {m.prompt_tokens:,} prompt + up to {m.completion_tokens:,} generated tokens",
                              markup=False)
    prompt, completion = p.tokens
    if p.model_calls:
        out_console.print(f"model: {p.model_calls:,} calls, about {prompt:,} prompt + up to {completion:,} "
                          "generated tokens (answers that fail their schema are retried, which adds to both)",
                          markup=False)
        if probed is not None and seconds is not None:
            out_console.print(f"time: about {format_seconds(seconds)} of model time, from a measurement "
                              f"just now ({probed.prompt_tps:,.0f} prompt and {probed.generate_tps:,.1f} generated "
                              "tokens/s, one stream, every call using its whole token budget; batching and shorter "
                              "answers make a run faster, and a finished run records its real speed)", markup=False)
        else:
            out_console.print(f"time: about {format_seconds(seconds)} of model time at the measured speed"
                              if seconds is not None
                              else "time: unknown: no run with this model has been measured yet "
                                   "(a run records its speed)",
                              markup=False)
    out_console.print(f"cap: --max-aug-ratio {p.ratio:g} lets through at most {p.cap_allows:,} variants"
                      if p.cap_allows is not None else "cap: none (--max-aug-ratio 1)", markup=False)
    if small:
        out_console.print(small, markup=False)
    out_console.print("dry run: nothing was written", markup=False)
