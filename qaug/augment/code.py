"""rename_identifiers: the same Python program with different local names.

A fine-tuning set that always calls the accumulator `total` teaches the name along with
the algorithm. Renaming locals and parameters keeps the program (its AST, up to the
names) and changes only its vocabulary. `ast` decides what may be renamed, scope by
scope; `tokenize` confirms each NAME token that is rewritten, so comments, strings and
formatting stay byte for byte as they were. When in doubt a name is left alone.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import io
import keyword
import re
import sys
import tokenize
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

from qaug.augment.base import Augmenter, Failure, Outcome, Param, Skip, Variant, register
from qaug.records import Path, Record, with_texts
from qaug.rng import Rng

# Before 3.12 an f-string is one STRING token: names inside it cannot be rewritten safely.
_FSTRING_TOKENS = sys.version_info >= (3, 12)
_PY_LABELS = {"python", "py", "python3", "py3"}
_NOT_CODE_LABELS = {"text", "txt", "plaintext", "output", "console", "json", "yaml", "csv", "markdown", "md", "diff"}
_RESERVED = set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist) | {"self", "cls", "_"}
_INTROSPECTION = {"locals", "vars", "eval", "exec", "dir", "globals"}
_FRAME_ATTRS = {"f_locals", "_getframe", "currentframe"}
_FUNC_KINDS = ("function", "lambda")
_UNRENAMABLE = {"def", "class", "import", "match", "kwonly", "vararg"}
_IDENT = re.compile(r"[^\W\d]\w*")
_LINE = re.compile(r"[^\n]*\n|[^\n]+$")
_FENCE_OPEN = re.compile(r"(?P<ind>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\r\n]*?)[ \t]*\r?")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_SELF_DOC = re.compile(r"=\s*[!:}]")
_CODE_LINE = re.compile(
    r"\s*(?:(?:def|class|import|from|return|if|elif|else|for|while|try|except|with|function|const|let|var"
    r"|public|private|static|fn|func|package|using|#include)\b|.*(?:[{};]|=>)\s*$|[\w.\[\]]+\s*[-+*/]?=\s*\S)"
)

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "value": ("val", "current", "amount"), "val": ("value", "current"), "values": ("vals", "elements", "entries"),
    "items": ("elements", "entries", "things"), "item": ("element", "entry", "elem"),
    "elements": ("items", "entries"), "element": ("item", "elem"), "elem": ("element", "item"),
    "result": ("res", "output", "answer", "outcome"), "res": ("result", "outcome"), "results": ("outputs", "outcomes"),
    "data": ("payload", "records", "raw"), "count": ("num", "tally", "cnt"), "counts": ("tallies", "freq"),
    "total": ("acc", "running_sum", "subtotal"), "acc": ("total", "accumulator"), "sum": ("total", "acc"),
    "i": ("idx", "k", "pos"), "j": ("jdx", "col_idx", "inner"), "k": ("kdx", "m"), "n": ("size", "num", "limit"),
    "x": ("xv", "elem", "a"), "y": ("yv", "other", "b"), "s": ("text", "txt", "string"), "a": ("first", "lhs"),
    "b": ("second", "rhs"), "c": ("ch", "third"), "d": ("mapping", "table"), "e": ("exc", "err", "error"),
    "f": ("fh", "handle", "stream"), "p": ("pt", "point"), "q": ("pending", "frontier"), "v": ("val", "value"),
    "text": ("txt", "content", "source"), "txt": ("text", "content"), "string": ("text", "txt"),
    "line": ("row", "ln", "raw_line"), "lines": ("rows", "raw_lines"), "word": ("token", "term"),
    "words": ("tokens", "terms"), "key": ("k", "field_name", "name_key"), "keys": ("names", "fields"),
    "node": ("vertex", "current_node", "nd"), "nodes": ("vertices", "members"), "num": ("number", "n_val"),
    "nums": ("numbers", "values", "arr"), "numbers": ("nums", "values"), "arr": ("array", "nums", "seq"),
    "lst": ("items", "seq", "elements"), "seq": ("sequence", "items"), "name": ("label", "title", "ident"),
    "path": ("filepath", "file_path", "location"), "fh": ("f_obj", "handle"), "file": ("fh", "handle"),
    "exc": ("err", "error"), "err": ("exc", "error"), "error": ("err", "exc"), "ex": ("exc", "err"),
    "idx": ("index", "i", "pos"), "index": ("idx", "pos", "position"), "tmp": ("temp", "scratch"),
    "temp": ("tmp", "scratch"), "queue": ("pending", "frontier"), "stack": ("pending", "stk"),
    "visited": ("seen", "explored"), "seen": ("visited", "known"), "left": ("lo", "start"), "right": ("hi", "end"),
    "lo": ("left", "low"), "hi": ("right", "high"), "low": ("lo", "floor"), "high": ("hi", "ceiling"),
    "start": ("begin", "first"), "end": ("stop", "finish"), "mid": ("middle", "pivot"), "matrix": ("grid", "table"),
    "grid": ("matrix", "board"), "row": ("line", "record"), "col": ("column", "c_idx"), "target": ("goal", "wanted"),
    "response": ("resp", "reply"), "resp": ("response", "reply"), "url": ("endpoint", "address"),
    "config": ("cfg", "settings"), "cfg": ("config", "conf"), "options": ("opts", "settings"),
    "callback": ("fn", "handler"), "func": ("fn", "callback"), "fn": ("func", "callback"), "obj": ("instance", "thing"),
    "msg": ("message", "note"), "message": ("msg", "note"), "freq": ("counts", "frequency"),
    "mapping": ("lookup", "table"), "cache": ("memo", "store"), "memo": ("cache", "store"), "ch": ("char", "c"),
    "char": ("ch", "symbol"), "size": ("length", "n"), "length": ("size", "n"), "output": ("out", "result"),
    "out": ("output", "buf"), "buf": ("buffer", "chunk"), "buffer": ("buf", "chunk"), "batch": ("chunk", "group"),
    "chunk": ("piece", "block"), "parts": ("pieces", "segments"), "part": ("piece", "segment"),
    "pair": ("couple", "duo"), "pairs": ("couples", "tuples"), "prev": ("previous", "last"), "curr": ("current", "cur"),
    "current": ("curr", "cur"), "user": ("account", "member"), "users": ("accounts", "members"),
}
_GENERIC = ("data", "result", "acc", "tmp", "node", "count", "value", "item", "entry", "elem", "current", "holder",
            "cursor", "slot", "token", "unit", "piece", "ref", "other", "spare", "store", "bucket", "cell", "sample")


@dataclass(eq=False)
class _Scope:
    """One Python scope: what it binds (name -> kinds), what it declares global/nonlocal."""

    kind: str  # module, class, function, lambda, comp
    parent: _Scope | None
    kinds: dict[str, set[str]] = field(default_factory=dict)
    declared: dict[str, str] = field(default_factory=dict)
    children: list[_Scope] = field(default_factory=list)
    doc_words: set[str] = field(default_factory=set)
    tainted: bool = False

    def bind(self, name: str, kind: str) -> None:
        self.kinds.setdefault(name, set()).add(kind)


@dataclass
class _Block:
    """A Python source found in a text: `text[start:end]` is its body, `indented` the lines that lost `indent`."""

    path: Path
    start: int
    end: int
    source: str
    tree: ast.Module
    indent: str = ""
    indented: list[bool] = field(default_factory=list)


def _parse(source: str) -> ast.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def _syntax_detail(exc: SyntaxError) -> str:
    return f"{exc.msg} (line {exc.lineno})" if exc.lineno else str(exc.msg)


def _has_def(tree: ast.AST) -> bool:
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(tree))


def _looks_like_code(text: str) -> bool:
    """True for text that is plainly code (most lines code-shaped), so its parse error is worth reporting."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return len(lines) >= 2 and 2 * sum(bool(_CODE_LINE.match(ln)) for ln in lines) > len(lines)


def _whole_field_is_code(tree: ast.Module, text: str) -> bool:
    """A field is code when it defines something or is several statements with assignments."""
    if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.walk(tree)):
        return True
    assigns = any(isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)) for n in ast.walk(tree))
    return len(tree.body) >= 2 and "\n" in text.strip() and assigns


def _fences(text: str) -> list[tuple[int, int, int, int, str, str]]:
    """(open line start, body start, body end, close line end, label, indent) for each closed fence."""
    lines = [(m.start(), m.group()) for m in _LINE.finditer(text)]
    out, i = [], 0
    while i < len(lines):
        start, line = lines[i]
        m = _FENCE_OPEN.fullmatch(line.rstrip("\n"))
        if m:
            fence = m["fence"]
            close = re.compile(rf"[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*\r?")
            for j in range(i + 1, len(lines)):
                if close.fullmatch(lines[j][1].rstrip("\n")):
                    label = m["info"].split()[0].strip("{}.").lower() if m["info"].strip() else ""
                    out.append((start, lines[i + 1][0], lines[j][0], lines[j][0] + len(lines[j][1]), label, m["ind"]))
                    i = j
                    break
            else:
                break  # an unclosed fence: leave the rest of the text alone
        i += 1
    return out


def _make_block(path: Path, text: str, start: int, end: int, indent: str) -> _Block:
    """Parse `text[start:end]`, dropping a fence's indent from every line that has it; raises SyntaxError."""
    body = text[start:end]
    lines = _LINE.findall(body)
    indented = [bool(indent) and ln.startswith(indent) for ln in lines]
    if indent and not all(flag or not ln.strip() for flag, ln in zip(indented, lines)):
        indented = [False] * len(lines)
    source = "".join(ln[len(indent):] if flag else ln for flag, ln in zip(indented, lines))
    return _Block(path, start, end, source, _parse(source), indent, indented)


class _Analyzer:
    """Builds the scope tree of one block and every occurrence of every name, with its position."""

    def __init__(self, block: _Block) -> None:
        self.source = block.source
        self.lines = _LINE.findall(block.source) or [""]
        self.tokens = self._name_tokens()
        self.token_keys = sorted(self.tokens)
        self.module = _Scope("module", None)
        # (scope to resolve from, name, (row, char col) or None when not rewritable)
        self.occurrences: list[tuple[_Scope, str, tuple[int, int] | None]] = []
        self.pinned: set[str] = set()
        self.kwargs: set[str] = set()
        self._unsafe = 0
        for stmt in block.tree.body:
            self.visit(stmt, self.module)

    def _name_tokens(self) -> dict[tuple[int, int], str]:
        try:
            toks = tokenize.generate_tokens(io.StringIO(self.source).readline)
            return {t.start: t.string for t in toks if t.type == tokenize.NAME}
        except (tokenize.TokenError, SyntaxError):
            return {}

    def _char_col(self, row: int, col: int) -> int:
        line = self.lines[row - 1] if 0 < row <= len(self.lines) else ""
        return col if line.isascii() else len(line.encode("utf-8")[:col].decode("utf-8", "ignore"))

    def _occ(self, scope: _Scope, name: str, row: int, col: int) -> None:
        pos = (row, self._char_col(row, col))
        ok = not self._unsafe and self.tokens.get(pos) == name
        self.occurrences.append((scope, name, pos if ok else None))

    def _new(self, parent: _Scope, kind: str) -> _Scope:
        scope = _Scope(kind, parent)
        parent.children.append(scope)
        return scope

    def _params(self, args: ast.arguments, scope: _Scope) -> None:
        groups = [(args.posonlyargs, "posonly"), (args.args, "param"), (args.kwonlyargs, "kwonly"),
                  ([args.vararg] if args.vararg else [], "vararg"), ([args.kwarg] if args.kwarg else [], "vararg")]
        for group, kind in groups:
            for a in group:
                scope.bind(a.arg, kind)
                self._occ(scope, a.arg, a.lineno, a.col_offset)

    def _outer_signature(self, args: ast.arguments, scope: _Scope) -> None:
        """Defaults and annotations are evaluated where the function is defined."""
        for d in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.visit(d, scope)
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if a is not None and a.annotation is not None:
                self.visit(a.annotation, scope)

    def _generic(self, node: ast.AST, scope: _Scope) -> None:
        for tp in getattr(node, "type_params", None) or ():
            self.pinned.add(tp.name)
        for child in ast.iter_child_nodes(node):
            self.visit(child, scope)

    def visit(self, node: ast.AST, scope: _Scope) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for d in getattr(node, "decorator_list", ()):
                self.visit(d, scope)
            self._outer_signature(node.args, scope)
            if getattr(node, "returns", None) is not None:
                self.visit(node.returns, scope)
            if isinstance(node, ast.Lambda):
                inner = self._new(scope, "lambda")
                self._params(node.args, inner)
                self.visit(node.body, inner)
                return
            scope.bind(node.name, "def")
            for tp in getattr(node, "type_params", None) or ():
                self.pinned.add(tp.name)
            inner = self._new(scope, "function")
            self._params(node.args, inner)
            inner.doc_words = set(_IDENT.findall(ast.get_docstring(node, clean=False) or ""))
            for stmt in node.body:
                self.visit(stmt, inner)
        elif isinstance(node, ast.ClassDef):
            for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
                self.visit(expr, scope)
            scope.bind(node.name, "class")
            for tp in getattr(node, "type_params", None) or ():
                self.pinned.add(tp.name)
            inner = self._new(scope, "class")
            for stmt in node.body:
                self.visit(stmt, inner)
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            self.visit(node.generators[0].iter, scope)  # the first iterable belongs to the enclosing scope
            inner = self._new(scope, "comp")
            for k, gen in enumerate(node.generators):
                if k:
                    self.visit(gen.iter, inner)
                self.visit(gen.target, inner)
                for cond in gen.ifs:
                    self.visit(cond, inner)
            for part in ((node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)):
                self.visit(part, inner)
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                scope.bind(node.id, "assign")
            self._occ(scope, node.id, node.lineno, node.col_offset)
        elif isinstance(node, ast.NamedExpr):
            home = scope
            while home.kind == "comp" and home.parent is not None:
                home = home.parent
            if isinstance(node.target, ast.Name):
                home.bind(node.target.id, "assign")
                self._occ(home, node.target.id, node.target.lineno, node.target.col_offset)
            self.visit(node.value, scope)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                scope.declared[name] = "global" if isinstance(node, ast.Global) else "nonlocal"
                self.pinned.add(name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                scope.bind(bound, "import")
                self.pinned.add(bound)
        elif isinstance(node, ast.ExceptHandler):
            if node.type is not None:
                self.visit(node.type, scope)
            if node.name and node.type is not None:
                scope.bind(node.name, "assign")
                self._handler_name(scope, node)
            for stmt in node.body:
                self.visit(stmt, scope)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar, ast.MatchMapping)):
            name = node.rest if isinstance(node, ast.MatchMapping) else node.name
            if name:
                scope.bind(name, "match")
                self.pinned.add(name)
            self._generic(node, scope)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in _INTROSPECTION:
                scope.tainted = True
            self.kwargs.update(k.arg for k in node.keywords if k.arg)
            self._generic(node, scope)
        elif isinstance(node, ast.Attribute):
            if node.attr in _FRAME_ATTRS:
                scope.tainted = True
            self.visit(node.value, scope)
        elif isinstance(node, ast.JoinedStr):
            segment = ast.get_source_segment(self.source, node) or "="
            unsafe = not _FSTRING_TOKENS or bool(_SELF_DOC.search(segment))  # f"{x=}" prints the name
            self._unsafe += unsafe
            self._generic(node, scope)
            self._unsafe -= unsafe
        else:
            if type(node).__name__ == "TypeAlias":
                self.pinned.add(node.name.id)  # type: ignore[attr-defined]
            self._generic(node, scope)

    def _handler_name(self, scope: _Scope, node: ast.ExceptHandler) -> None:
        """`except E as name`: the name has no node of its own; it is the first NAME token after E."""
        assert node.type is not None and node.name is not None
        row = node.type.end_lineno or 0
        after = (row, self._char_col(row, node.type.end_col_offset or 0))
        for key in self.token_keys[bisect.bisect_left(self.token_keys, after):]:
            if self.tokens[key] == node.name:
                self.occurrences.append((scope, node.name, key))
                return
        self.occurrences.append((scope, node.name, None))


def _resolve(scope: _Scope, name: str) -> _Scope | None:
    """The function-like scope whose binding `name` refers to from `scope`, or None (global, builtin, class)."""
    s: _Scope | None = scope
    first = True
    while s is not None:
        if s.kind == "class" and not first:
            s = s.parent
            continue
        decl = s.declared.get(name)
        if decl == "global":
            return None
        if decl != "nonlocal" and name in s.kinds:
            return s if s.kind not in ("module", "class") else None
        s, first = s.parent, False
    return None


def _taint(root: _Scope) -> set[int]:
    """Scopes where locals()/eval/exec/frames could see names by string: the whole enclosing function."""
    out: set[int] = set()

    def subtree(s: _Scope) -> None:
        out.add(id(s))
        for c in s.children:
            subtree(c)

    def walk(s: _Scope) -> None:
        if s.tainted:
            top = s
            while top.parent is not None and top.parent.kind in (*_FUNC_KINDS, "comp"):
                top = top.parent
            subtree(top)
        for c in s.children:
            walk(c)

    walk(root)
    return out


def _chain(scope: _Scope) -> Iterator[_Scope]:
    s: _Scope | None = scope
    while s is not None:
        yield s
        s = s.parent


def _is_reserved(name: str) -> bool:
    return name in _RESERVED or name.startswith("__")


def _free(name: str, taken: set[str]) -> bool:
    return name.isidentifier() and not _is_reserved(name) and name not in taken


def _new_name(old: str, taken: set[str], rng: Rng) -> str:
    """A plausible, unused name for `old`: a synonym of it or of one of its words, else a generic one."""
    core = old.lstrip("_")
    lead = old[: len(old) - len(core)]
    camel = bool(re.search(r"[a-z][A-Z]", core))
    upper = core.isupper() and len(core) > 1
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", core).lower()

    def styled(s: str) -> str:
        if camel:
            head, *rest = s.split("_")
            s = head + "".join(w.capitalize() for w in rest)
        return lead + (s.upper() if upper else s)

    words = snake.split("_")
    cands = list(_SYNONYMS.get(snake, ()))
    if len(words) > 1:
        for k, w in enumerate(words):
            cands += ["_".join([*words[:k], syn, *words[k + 1:]]) for syn in _SYNONYMS.get(w, ())]
    free = [c for c in dict.fromkeys(map(styled, cands)) if _free(c, taken)]
    if not free:
        free = [c for c in map(styled, _GENERIC) if _free(c, taken)]
    if free:
        return rng.choice(free)
    base, n = styled(rng.choice(_GENERIC)), 2
    while not _free(f"{base}{n}", taken):
        n += 1
    return f"{base}{n}"


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

    blocks: list[_Block] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    prose: list[tuple[Path, int, int]] = field(default_factory=list)
    pinned: set[str] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)


def _scan_text(path: Path, text: str, scan: _Scan) -> None:
    fences = _fences(text)
    if not fences:
        try:
            tree = _parse(text)
        except (SyntaxError, ValueError) as exc:
            if _looks_like_code(text):
                scan.failures.append(_syntax_detail(exc) if isinstance(exc, SyntaxError) else str(exc))
            scan.prose.append((path, 0, len(text)))
            return
        if _whole_field_is_code(tree, text):
            scan.blocks.append(_Block(path, 0, len(text), text, tree))
        else:
            scan.prose.append((path, 0, len(text)))
        return
    cursor = 0
    for open_at, body_start, body_end, close_end, label, indent in fences:
        scan.prose.append((path, cursor, open_at))
        cursor = close_end
        body = text[body_start:body_end]
        scan.taken.update(_IDENT.findall(body))
        if label in _NOT_CODE_LABELS or (label and label not in _PY_LABELS):
            if label not in _NOT_CODE_LABELS:
                scan.failures.append(f"block labelled '{label}'")
            continue
        try:
            block = _make_block(path, text, body_start, body_end, indent)
        except (SyntaxError, ValueError) as exc:
            if label:  # labelled Python that does not parse: keep every name in it as it is
                scan.pinned.update(_IDENT.findall(body))
            scan.failures.append(_syntax_detail(exc) if isinstance(exc, SyntaxError) else str(exc))
            continue
        if label or _has_def(block.tree):
            scan.blocks.append(block)
    scan.prose.append((path, cursor, len(text)))


@register
class RenameIdentifiers(Augmenter):
    """Rename local variables and parameters in the Python code of a record."""

    name = "rename_identifiers"
    description = "Rename local variables and parameters in Python code blocks (AST-checked, comments and strings kept)."
    PARAMS = (
        Param("fraction", float, 1.0, "share of the eligible names to rename (at least one)", min=0.0, max=1.0),
    )

    def augment(self, record: Record, rng: Rng) -> Iterator[Outcome]:
        """One variant with a consistent old->new map over every Python block of the record."""
        yield self._augment(record, rng)

    def _augment(self, record: Record, rng: Rng) -> Outcome:
        fields = self.fields_for(record)
        selected = record.texts(fields)
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
                for _, b0, b1, _, _, _ in _fences(text):
                    scan.pinned.update(_IDENT.findall(text[b0:b1]))
                for span in _INLINE_CODE.findall(text):
                    scan.pinned.update(_IDENT.findall(span))
        texts = dict(record.texts(None))
        mentions: list[tuple[Path, int, int, str]] = []
        for path, a, b in scan.prose:
            for m in _INLINE_CODE.finditer(texts[path], a, b):
                span = m.group(1).strip()
                scan.taken.update(_IDENT.findall(span))
                if span.isidentifier() and not keyword.iskeyword(span):
                    mentions.append((path, m.start(1), m.end(1), span))
                else:
                    scan.pinned.update(_IDENT.findall(span))

        analyses = [_Analyzer(block) for block in scan.blocks]
        kwargs = set().union(*(an.kwargs for an in analyses))
        pinned = scan.pinned.union(*(an.pinned for an in analyses))
        for block in scan.blocks:
            scan.taken.update(_IDENT.findall(block.source))

        # binding -> positions; a binding is (block index, scope, name).
        bindings: dict[tuple[int, int, str], list[tuple[int, int] | None]] = {}
        scopes: dict[tuple[int, int, str], _Scope] = {}
        for bi, an in enumerate(analyses):
            for scope, name, pos in an.occurrences:
                home = _resolve(scope, name)
                if home is not None:
                    key = (bi, id(home), name)
                    bindings.setdefault(key, []).append(pos)
                    scopes[key] = home
        tainted = [_taint(an.module) for an in analyses]

        def eligible(key: tuple[int, int, str]) -> bool:
            bi, _, name = key
            scope, kinds = scopes[key], scopes[key].kinds.get(name, set())
            return not (
                None in bindings[key] or name in pinned or _is_reserved(name) or id(scope) in tainted[bi]
                or kinds & _UNRENAMABLE or ("param" in kinds and name in kwargs)
                or (scope.kind == "comp" and all(s.kind not in _FUNC_KINDS for s in _chain(scope)))
                or any(name in s.doc_words for s in _chain(scope))
            )

        ok_keys = [k for k in bindings if eligible(k)]
        names = list(dict.fromkeys(k[2] for k in ok_keys))
        if not names:
            return Skip(f"no local variable or parameter is safe to rename in {len(scan.blocks)} Python block(s)")
        k = max(1, round(self.fraction * len(names)))
        picked = set(rng.derive("pick").sample(names, k))
        name_rng, taken, mapping = rng.derive("names"), set(scan.taken), {}
        for old in names:
            if old in picked:
                mapping[old] = _new_name(old, taken, name_rng)
                taken.add(mapping[old])

        per_block: dict[int, dict[tuple[int, int], str]] = {}
        for key in ok_keys:
            if key[2] in mapping:
                for pos in bindings[key]:
                    assert pos is not None
                    per_block.setdefault(key[0], {})[pos] = key[2]
        edits: dict[Path, list[tuple[int, int, str]]] = {}
        new_sources: list[str] = []
        back = {new: old for old, new in mapping.items()}
        for bi, block in enumerate(scan.blocks):
            positions = per_block.get(bi, {})
            starts = [m.start() for m in _LINE.finditer(block.source)] or [0]
            spans = [(starts[r - 1] + c, starts[r - 1] + c + len(old), mapping[old]) for (r, c), old in positions.items()]
            source = _splice(block.source, spans)
            new_sources.append(source)
            if not positions:
                continue
            try:
                same = _normalised_dump(_parse(source), back) == ast.dump(block.tree)
            except SyntaxError:
                same = False
            if not same:
                return Failure("renamed code no longer has the original's syntax tree", text=source)
            if block.indent:
                lines = _LINE.findall(source)
                source = "".join(block.indent + ln if flag else ln for flag, ln in zip(block.indented, lines))
            edits.setdefault(block.path, []).append((block.start, block.end, source))

        # Inline `name` mentions follow the rename when the name is gone from all the code.
        code_after = "\n".join(new_sources)
        gone = {old for old in mapping if not re.search(rf"(?<!\w){re.escape(old)}(?!\w)", code_after)}
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
