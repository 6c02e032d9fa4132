"""rename_identifiers: the same Python program with different local names.

A fine-tuning set that always calls the accumulator `total` teaches the name along with
the algorithm. Renaming locals and parameters keeps the program (its AST, up to the
names) and changes only its vocabulary. `ast` decides what may be renamed, scope by
scope; `tokenize` confirms each NAME token that is rewritten, so comments, strings and
formatting stay byte for byte as they were. When in doubt a name is left alone.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from qaug.augment.answers import (
    PY_LABELS,
    Block,
    code_label,
    has_def,
    line_end,
    make_block,
    parse,
    syntax_detail,
    whole_field_is_code,
)
from qaug.augment.base import Augmenter, Failure, Outcome, Param, Skip, Variant
from qaug.augment.registry import register
from qaug.augment.coderun import behaviour_change, runnable
from qaug.augment.fences import find_fences
from qaug.augment.pynames import is_reserved, new_name
from qaug.augment.pyscope import FUNC_KINDS, IDENT, LINE, Analyzer, Scope, chain, keyword_safe, resolve, taint
from qaug.records import FieldPath, Record, with_texts
from qaug.rng import Rng

_NOT_CODE_LABELS = {"text", "txt", "plaintext", "output", "console", "json", "yaml", "csv", "markdown", "md", "diff"}
_UNRENAMABLE = {"def", "class", "import", "match", "kwonly", "vararg"}
#: the most text one record may give rename_identifiers: the work is linear, but one record must never stall a run
MAX_CHARS = 100_000
_WORD = re.compile(r"\w+")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_CODE_LINE = re.compile(
    r"\s*(?:(?:def|class|import|from|return|if|elif|else|for|while|try|except|with|function|const|let|var"
    r"|public|private|static|fn|func|package|using|#include)\b|.*(?:[{};]|=>)\s*$|[\w.\[\]]+\s*[-+*/]?=\s*\S)"
)


def _looks_like_code(text: str) -> bool:
    """True for text that is plainly code (most lines code-shaped), so its parse error is worth reporting."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return len(lines) >= 2 and 2 * sum(bool(_CODE_LINE.match(ln)) for ln in lines) > len(lines)


def _normalised_dump(tree: ast.AST, back: dict[str, str]) -> str:
    """`ast.dump` with new names mapped back to old ones: equal to the original's when only names changed."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            n.id = back.get(n.id, n.id)
        elif isinstance(n, ast.arg):
            n.arg = back.get(n.arg, n.arg)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            n.name = back.get(n.name, n.name)
    return ast.dump(tree)


def _splice(text: str, edits: list[tuple[int, int, str]]) -> str:
    """`text` with each (start, end) span replaced; spans do not overlap."""
    out, at = [], 0
    for start, end, new in sorted(edits):
        out += [text[at:start], new]
        at = end
    return "".join(out) + text[at:]


@dataclass
class _Scan:
    """What a record holds: Python blocks, code that is not Python, prose spans and names to keep."""

    blocks: list[Block] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    prose: list[tuple[FieldPath, int, int]] = field(default_factory=list)
    pinned: set[str] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)


def _scan_text(path: FieldPath, text: str, scan: _Scan) -> None:
    fences = find_fences(text)
    if not fences:
        try:
            tree = parse(text)
        except (SyntaxError, ValueError) as exc:
            if _looks_like_code(text):
                scan.failures.append(syntax_detail(exc))
            scan.prose.append((path, 0, len(text)))
            return
        if whole_field_is_code(tree, text):
            scan.blocks.append(Block(path, 0, len(text), text, tree))
        else:
            scan.prose.append((path, 0, len(text)))
        return
    cursor = 0
    for fence in fences:
        scan.prose.append((path, cursor, fence.start))
        cursor = line_end(text, fence)
        body = text[fence.body_start:fence.body_end]
        scan.taken.update(IDENT.findall(body))
        label = code_label(fence)
        if label in _NOT_CODE_LABELS or (label and label not in PY_LABELS):
            if label not in _NOT_CODE_LABELS:
                scan.failures.append(f"block labelled '{label}'")
            continue
        try:
            block = make_block(path, text, fence.body_start, fence.body_end, fence.margin)
        except (SyntaxError, ValueError) as exc:
            if label:  # labelled Python that does not parse: keep every name in it as it is
                scan.pinned.update(IDENT.findall(body))
            scan.failures.append(syntax_detail(exc))
            continue
        if label or has_def(block.tree):
            scan.blocks.append(block)
    scan.prose.append((path, cursor, len(text)))


@register
class RenameIdentifiers(Augmenter):
    """Rename local variables and parameters in the Python code of a record."""

    name = "rename_identifiers"
    # 2: a parameter whose name a string holds, or whose function is passed on or wrapped, keeps its name;
    # self-contained code is run before and after (run_check)
    version = "2"
    description = ("Rename local variables and parameters in Python code blocks "
                   "(AST-checked, comments and strings kept).")
    PARAMS = (
        Param("fraction", float, 1.0, "share of the eligible names to rename (at least one)", min=0.0, max=1.0),
        Param("run_check", bool, True, "run self-contained code (pure modules only, sandboxed) before and after, "
                                       "and drop a variant that behaves differently"),
    )

    def augment(self, record: Record, rng: Rng) -> Iterator[Outcome]:
        """One variant with a consistent old->new map over every Python block of the record."""
        yield self._augment(record, rng)

    def _augment(self, record: Record, rng: Rng) -> Outcome:
        fields = self.fields_for(record)
        selected = record.texts(fields)
        size = sum(len(text) for _, text in selected)
        if size > MAX_CHARS:
            return Skip(f"texts too long to rename in: {size:,} characters, over the {MAX_CHARS:,} a record may have")
        scan = _Scan()
        for path, text in selected:
            _scan_text(path, text, scan)
        if not scan.blocks:
            if scan.failures:
                return Skip(f"code does not parse as Python: {scan.failures[0]}")
            return Skip("no Python code in the selected texts")

        # Names a reader may see outside the code we rewrite stay as they are.
        chosen_paths = {p for p, _ in selected}
        for path, text in record.texts(None):
            if path not in chosen_paths:
                for fence in find_fences(text):
                    scan.pinned.update(IDENT.findall(text[fence.body_start:fence.body_end]))
                for span in _INLINE_CODE.findall(text):
                    scan.pinned.update(IDENT.findall(span))
        texts = dict(record.texts(None))
        mentions: list[tuple[FieldPath, int, int, str]] = []
        for path, a, b in scan.prose:
            for m in _INLINE_CODE.finditer(texts[path], a, b):
                span = m.group(1).strip()
                scan.taken.update(IDENT.findall(span))
                if span.isidentifier() and not keyword.iskeyword(span):
                    mentions.append((path, m.start(1), m.end(1), span))
                else:
                    scan.pinned.update(IDENT.findall(span))

        analyses = [Analyzer(block) for block in scan.blocks]
        kwargs = set().union(*(an.kwargs for an in analyses))
        strings = set().union(*(an.strings for an in analyses))
        escaped = set().union(*(an.escaped for an in analyses))
        pinned = scan.pinned.union(*(an.pinned for an in analyses))
        for block in scan.blocks:
            scan.taken.update(IDENT.findall(block.source))

        # binding -> positions; a binding is (block index, scope, name).
        bindings: dict[tuple[int, int, str], list[tuple[int, int] | None]] = {}
        scopes: dict[tuple[int, int, str], Scope] = {}
        for bi, an in enumerate(analyses):
            for scope, name, pos in an.occurrences:
                home = resolve(scope, name)
                if home is not None:
                    key = (bi, id(home), name)
                    bindings.setdefault(key, []).append(pos)
                    scopes[key] = home
        tainted = [taint(an.module) for an in analyses]

        def eligible(key: tuple[int, int, str]) -> bool:
            bi, _, name = key
            scope, kinds = scopes[key], scopes[key].kinds.get(name, set())
            return not (
                None in bindings[key] or name in pinned or is_reserved(name) or id(scope) in tainted[bi]
                or kinds & _UNRENAMABLE
                or ("param" in kinds and not keyword_safe(scope, name, kwargs, strings, escaped))
                or (scope.kind == "comp" and all(s.kind not in FUNC_KINDS for s in chain(scope)))
                or any(name in s.doc_words for s in chain(scope))
            )

        ok_keys = [k for k in bindings if eligible(k)]
        names = list(dict.fromkeys(k[2] for k in ok_keys))
        if not names:
            return Skip(f"no local variable or parameter is safe to rename in {len(scan.blocks)} Python block(s)")
        k = max(1, round(self.fraction * len(names)))
        picked = set(rng.derive("pick").sample(names, k))
        name_rng, taken, mapping = rng.derive("names"), set(scan.taken), {}
        numbered: dict[str, int] = {}
        for old in names:
            if old in picked:
                mapping[old] = new_name(old, taken, name_rng, numbered)
                taken.add(mapping[old])

        per_block: dict[int, dict[tuple[int, int], str]] = {}
        for key in ok_keys:
            if key[2] in mapping:
                for pos in bindings[key]:
                    assert pos is not None
                    per_block.setdefault(key[0], {})[pos] = key[2]
        edits: dict[FieldPath, list[tuple[int, int, str]]] = {}
        new_sources: list[str] = []
        back = {new: old for old, new in mapping.items()}
        for bi, block in enumerate(scan.blocks):
            positions = per_block.get(bi, {})
            starts = [m.start() for m in LINE.finditer(block.source)] or [0]
            spans = [(starts[r - 1] + c, starts[r - 1] + c + len(old), mapping[old])
                     for (r, c), old in positions.items()]
            source = _splice(block.source, spans)
            new_sources.append(source)
            if not positions:
                continue
            try:
                same = _normalised_dump(parse(source), back) == ast.dump(block.tree)
            except SyntaxError:
                same = False
            if not same:
                return Failure("renamed code no longer has the original's syntax tree", text=source)
            if self.run_check and runnable(block.tree) is None:
                why = behaviour_change(block.source, source)
                if why is not None:
                    return Failure(f"renamed code behaves differently when run: {why}", text=source)
            if block.indent:
                lines = LINE.findall(source)
                source = "".join(block.indent + ln if flag else ln for flag, ln in zip(block.indented, lines))
            edits.setdefault(block.path, []).append((block.start, block.end, source))

        # Inline `name` mentions follow the rename when the name is gone from all the code.
        words_after = set(_WORD.findall("\n".join(new_sources)))  # one pass, not one search per renamed name
        gone = {old for old in mapping if old not in words_after}
        n_mentions = 0
        for path, a, b, span in mentions:
            if span in gone:
                edits.setdefault(path, []).append((a, b, mapping[span]))
                n_mentions += 1

        changes = {path: _splice(texts[path], spans) for path, spans in edits.items()}
        info: dict[str, object] = {"renamed": mapping, "blocks": len(per_block)}
        if n_mentions:
            info["mentions"] = n_mentions
        return Variant(data=with_texts(record.data, changes), info=info)
