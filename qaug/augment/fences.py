"""Fenced code blocks (```lang ... ```) in Markdown texts: the one parser every method uses.

Methods must agree on what is code: rename_identifiers renames inside it, steps/bugfix parse it,
translate keeps it verbatim, table_convert leaves tables inside it alone, and the JSON methods
rewrite ```json blocks. The rules differ on purpose in a few places, each a keyword of
`find_fences` whose default is the CommonMark-like reading; the JSON methods' stricter reading is
pinned by tests (tests/test_jsondoc.py compares it with the regex those methods used before).
Scanning is line by line and linear in the text: no opener is searched to the end twice.
"""

from __future__ import annotations

import bisect
import functools
import re
from typing import NamedTuple

__all__ = ["Fence", "fenced_spans", "find_fences"]

# The first word of an info string, after its spaces and tabs (what CommonMark renders as the language).
_LANG = re.compile(r"[ \t]*([^\s`]*)")


class Fence(NamedTuple):
    """A closed fenced block: `start:end` from its opening line to the end of its closing fence (newline
    excluded), `body_start:body_end` the lines between them, `margin` the opening line's indentation,
    `info` the rest of the opening line after the fence and `lang` the first word of `info`."""

    start: int
    end: int
    body_start: int
    body_end: int
    margin: str
    lang: str
    info: str


def _scan(text: str, info: re.Pattern[str] | None, max_margin: int | None, tildes: bool, exact_close: bool,
          skip_unclosed: bool, crlf: bool) -> tuple[list[Fence], int | None]:
    """(closed fences, start of the unclosed opener that ended the scan or None); see `find_fences`."""
    marks = ("```", "~~~") if tildes else ("```",)
    if not any(m in text for m in marks):
        return [], None
    opener, closer = _patterns(max_margin, tildes, crlf)
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    # closing lines by fence character: line numbers, run lengths, and (for "at least as long") the longest
    # run at or after each, so an opener that nothing closes is known in one look
    close_at: dict[str, list[int]] = {}
    close_len: dict[str, list[int]] = {}
    exact: dict[tuple[str, int], list[int]] = {}
    openers: list[tuple[int, re.Match[str]]] = []
    for i, line in enumerate(lines):
        if not any(m in line for m in marks):
            continue
        if crlf and line.endswith("\r"):
            line = line[:-1]
        c = closer.fullmatch(line)
        if c is not None:
            ch, n = c.group(1)[0], len(c.group(1))
            close_at.setdefault(ch, []).append(i)
            close_len.setdefault(ch, []).append(n)
            exact.setdefault((ch, n), []).append(i)
        m = opener.fullmatch(line)
        if m is not None and (info is None or info.fullmatch(m.group("info"))):
            openers.append((i, m))
    longest_after = {ch: _suffix_max(ns) for ch, ns in close_len.items()}
    out: list[Fence] = []
    free = 0  # the first line a block may open on (after the last block's closing line)
    for i, m in openers:
        if i < free:
            continue
        ch, n = m.group("run")[0], len(m.group("run"))
        if exact_close:
            found = exact.get((ch, n), [])
            k = bisect.bisect_right(found, i)
            j = found[k] if k < len(found) else None
        else:
            at, lens = close_at.get(ch, []), close_len.get(ch, [])
            k = bisect.bisect_right(at, i)
            if k < len(at) and longest_after[ch][k] >= n:
                while lens[k] < n:  # every closer read here lies inside this block: linear overall
                    k += 1
                j = at[k]
            else:
                j = None
        if j is None:
            if skip_unclosed:
                continue
            return out, starts[i]
        rest = m.group("info")
        lang = _LANG.match(rest)
        out.append(Fence(starts[i], starts[j] + len(lines[j]), starts[i + 1], starts[j], m.group("margin"),
                         lang.group(1) if lang else "", rest))
        free = j + 1
    return out, None


@functools.lru_cache(maxsize=None)
def _patterns(max_margin: int | None, tildes: bool, crlf: bool) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(opening line, closing line) for one set of rules; the info string never holds a backtick."""
    margin = r"[ \t]*" if max_margin is None else rf"[ \t]{{0,{max_margin}}}"
    run = "`{3,}|~{3,}" if tildes else "`{3,}"
    info = r"[^`\r]*" if crlf else "[^`]*"
    return re.compile(f"(?P<margin>{margin})(?P<run>{run})(?P<info>{info})"), re.compile(rf"{margin}({run})[ \t]*")


def _suffix_max(values: list[int]) -> list[int]:
    out = values[:]
    for k in range(len(out) - 2, -1, -1):
        out[k] = max(out[k], out[k + 1])
    return out


def find_fences(text: str, *, info: re.Pattern[str] | None = None, max_margin: int | None = None,
                tildes: bool = True, exact_close: bool = False, skip_unclosed: bool = False,
                crlf: bool = True) -> list[Fence]:
    """Every closed fence in `text`, in order. The defaults read Markdown as CommonMark does, except that a
    fence may be indented any number of spaces or tabs; rename_identifiers, steps, bugfix, translate and
    table_convert's Markdown tables read fences so. The JSON methods (jsondoc.fenced_blocks) read them as the
    regex they used before issue 11 did, which tests/test_jsondoc.py holds them to; each keyword says how:

    - `info`: only an opening line whose info string fully matches it opens a block (table_convert's
      ```csv blocks); other fence lines still close blocks.
    - `max_margin`: at most this many spaces/tabs before a fence (3 for the JSON methods); None: any, as
      rename_identifiers needs for a fence nested in a list item, whose indentation it strips from the code.
    - `tildes`: ~~~ fences count too (code is code to rename, to parse or to keep from the translating model,
      whatever its fence); the JSON methods have never rewritten a ~~~json block and still leave it alone.
    - `exact_close`: a block is closed only by a run of exactly its own length (the JSON methods); else by
      a run at least as long, as CommonMark says.
    - `skip_unclosed`: an opener that nothing closes is passed over and the scan goes on with the next
      line (the JSON methods: a ```json block after a stray ```` opener is still found); else, as in
      CommonMark, an unclosed fence runs to the end of the text and nothing after it is a block.
    - `crlf`: a \\r before a line's newline belongs to the line ending, so CRLF answers have their code found
      (any other \\r on a fence line makes it no fence); else \\r is text: an info string may hold it and a
      closing fence followed by it does not close (the JSON methods).
    """
    return _scan(text, info, max_margin, tildes, exact_close, skip_unclosed, crlf)[0]


def fenced_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each fenced block read with `find_fences`' defaults, fences included, and of an
    unclosed fence to the end of the text: the parts of `text` that are code, not prose."""
    fences, open_at = _scan(text, None, None, True, False, False, True)
    spans = [(f.start, f.end) for f in fences]
    if open_at is not None:
        spans.append((open_at, len(text)))
    return spans
