"""The elements of a JSON array file as byte spans, found without parsing them.

A `.json` input is parsed whole first (orjson, fast). When that fails, one element is to blame, not the file:
this scanner finds where each top-level element starts and ends by its brackets, commas and strings alone
(iteratively, so any nesting depth is fine), and each element is then parsed on its own. A poison element
becomes one reject; the elements around it are still records.
"""

from __future__ import annotations

import re

# a string (to its closing quote, or to the end when it has none) or one structural character
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{},]', re.S)
_WS = b" \t\r\n"


def element_spans(data: bytes) -> tuple[list[tuple[int, int]], str | None]:
    """(start, end) of each top-level element of the array in `data`, and what is wrong with its structure.

    `data` that holds one object gives that object as the only element. The problem is None for a well-formed
    array; otherwise it says what broke (a string never closed, the array not closed, data after it), and the
    spans cover every element up to there.
    """
    first = len(data) - len(data.lstrip(_WS))
    if data[first:first + 1] == b"{":
        return [(first, len(data.rstrip(_WS)))], None
    if data[first:first + 1] != b"[":
        return [], "it holds neither an array nor an object"
    spans: list[tuple[int, int]] = []
    depth = 0
    seg = first + 1
    for m in _TOKEN.finditer(data, first + 1):
        c = data[m.start()]
        if c == 0x22:  # '"'
            if m.end() - m.start() < 2 or data[m.end() - 1] != 0x22:
                spans.append((seg, len(data)))
                return spans, "a string is never closed"
        elif c in b"[{":
            depth += 1
        elif c in b"]}":
            if depth == 0:
                if spans or data[seg:m.start()].strip(_WS):
                    spans.append((seg, m.start()))
                rest = data[m.end():].strip(_WS)
                return spans, "there is data after the array" if rest else None
            depth -= 1
        elif depth == 0:  # a comma between elements
            spans.append((seg, m.start()))
            seg = m.end()
    if data[seg:].strip(_WS):
        spans.append((seg, len(data)))
    return spans, "the array is never closed (is the file cut short?)"
