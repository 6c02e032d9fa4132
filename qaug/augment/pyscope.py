"""Python scopes for rename_identifiers: what each scope binds, where every name occurs, what must stay.

`Analyzer` walks one parsed block once and records every occurrence of every name with the scope it is
read from, and what makes a name unsafe to rename: introspection (locals(), eval, frames), globals and
nonlocals, keyword arguments, identifier-like strings (`f(**{'alpha': 1})`), functions passed on
rather than called, and decorators that may call by keyword.
"""

from __future__ import annotations

import ast
import bisect
import io
import re
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

# Before 3.12 an f-string is one STRING token: names inside it cannot be rewritten safely.
_FSTRING_TOKENS = sys.version_info >= (3, 12)
_INTROSPECTION = {"locals", "vars", "eval", "exec", "dir", "globals"}
_FRAME_ATTRS = {"f_locals", "_getframe", "currentframe"}
FUNC_KINDS = ("function", "lambda")
IDENT = re.compile(r"[^\W\d]\w*")
LINE = re.compile(r"[^\n]*\n|[^\n]+$")
_SELF_DOC = re.compile(r"=\s*[!:}]")


class Parsed(Protocol):
    """A block of Python: its source and syntax tree."""

    source: str
    tree: ast.Module


@dataclass(eq=False)
class Scope:
    """One Python scope: what it binds (name -> kinds), what it declares global/nonlocal."""

    kind: str  # module, class, function, lambda, comp
    parent: Scope | None
    kinds: dict[str, set[str]] = field(default_factory=dict)
    declared: dict[str, str] = field(default_factory=dict)
    children: list[Scope] = field(default_factory=list)
    doc_words: set[str] = field(default_factory=set)
    tainted: bool = False
    name: str = ""  # a class's name
    #: a function: the names it is called by (its own; a class's too for __init__/__new__), and whether a
    #: decorator that may call it by keyword wraps it
    called_as: frozenset[str] = frozenset()
    wrapped: bool = False

    def bind(self, name: str, kind: str) -> None:
        self.kinds.setdefault(name, set()).add(kind)


class Analyzer:
    """Builds the scope tree of one block and every occurrence of every name, with its position."""

    def __init__(self, block: Parsed) -> None:
        self.source = block.source
        self.lines = LINE.findall(block.source) or [""]
        self._col_tables: dict[int, list[int] | None] = {}
        self.tokens = self._name_tokens()
        self.token_keys = sorted(self.tokens)
        self.module = Scope("module", None)
        # (scope to resolve from, name, (row, char col) or None when not rewritable)
        self.occurrences: list[tuple[Scope, str, tuple[int, int] | None]] = []
        self.pinned: set[str] = set()
        self.kwargs: set[str] = set()
        self.strings: set[str] = set()  # identifier-like string constants: keys a call may pass by name
        self.escaped: set[str] = set()  # names (and attributes) used other than as the callee of a call
        self._callees: set[int] = set()
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
        """The character column of a UTF-8 byte column; each line's table is built once (a long line with
        many names would otherwise be encoded again for every name on it)."""
        table: list[int] | None | Literal[False] = self._col_tables.get(row, False)
        if table is False:
            line = self.lines[row - 1] if 0 < row <= len(self.lines) else ""
            table = None
            if not line.isascii():
                table = []
                for k, ch in enumerate(line):
                    table.extend([k] * len(ch.encode("utf-8", "surrogatepass")))
                table.append(len(line))
            self._col_tables[row] = table
        if table is None:
            return col
        return table[col] if col < len(table) else table[-1]

    def _occ(self, scope: Scope, name: str, row: int, col: int) -> None:
        pos = (row, self._char_col(row, col))
        ok = not self._unsafe and self.tokens.get(pos) == name
        self.occurrences.append((scope, name, pos if ok else None))

    def _new(self, parent: Scope, kind: str) -> Scope:
        scope = Scope(kind, parent)
        parent.children.append(scope)
        return scope

    def _params(self, args: ast.arguments, scope: Scope) -> None:
        groups = [(args.posonlyargs, "posonly"), (args.args, "param"), (args.kwonlyargs, "kwonly"),
                  ([args.vararg] if args.vararg else [], "vararg"), ([args.kwarg] if args.kwarg else [], "vararg")]
        for group, kind in groups:
            for a in group:
                scope.bind(a.arg, kind)
                self._occ(scope, a.arg, a.lineno, a.col_offset)

    def _outer_signature(self, args: ast.arguments, scope: Scope) -> None:
        """Defaults and annotations are evaluated where the function is defined."""
        for d in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.visit(d, scope)
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if a is not None and a.annotation is not None:
                self.visit(a.annotation, scope)

    def _generic(self, node: ast.AST, scope: Scope) -> None:
        for tp in getattr(node, "type_params", None) or ():
            self.pinned.add(tp.name)
        for child in ast.iter_child_nodes(node):
            self.visit(child, scope)

    def visit(self, node: ast.AST, scope: Scope) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for d in getattr(node, "decorator_list", ()):
                self.visit(d, scope)
            self._outer_signature(node.args, scope)
            returns = getattr(node, "returns", None)  # a lambda has none
            if returns is not None:
                self.visit(returns, scope)
            if isinstance(node, ast.Lambda):
                inner = self._new(scope, "lambda")
                self._params(node.args, inner)
                self.visit(node.body, inner)
                return
            scope.bind(node.name, "def")
            for tp in getattr(node, "type_params", None) or ():
                self.pinned.add(tp.name)
            inner = self._new(scope, "function")
            names = {node.name}
            if scope.kind == "class" and node.name in ("__init__", "__new__"):
                names.add(scope.name)  # called as the class
            inner.called_as = frozenset(names)
            inner.wrapped = not all(_plain_decorator(d) for d in node.decorator_list)
            self._params(node.args, inner)
            inner.doc_words = set(IDENT.findall(ast.get_docstring(node, clean=False) or ""))
            for stmt in node.body:
                self.visit(stmt, inner)
        elif isinstance(node, ast.ClassDef):
            for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
                self.visit(expr, scope)
            scope.bind(node.name, "class")
            for tp in getattr(node, "type_params", None) or ():
                self.pinned.add(tp.name)
            inner = self._new(scope, "class")
            inner.name = node.name
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
            elif id(node) not in self._callees:
                self.escaped.add(node.id)
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
            captured = node.rest if isinstance(node, ast.MatchMapping) else node.name
            if captured:
                scope.bind(captured, "match")
                self.pinned.add(captured)
            self._generic(node, scope)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in _INTROSPECTION:
                scope.tainted = True
            self.kwargs.update(k.arg for k in node.keywords if k.arg)
            self._callees.add(id(node.func))
            self._generic(node, scope)
        elif isinstance(node, ast.Attribute):
            if node.attr in _FRAME_ATTRS:
                scope.tainted = True
            if id(node) not in self._callees:
                self.escaped.add(node.attr)
            self.visit(node.value, scope)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, str) and node.value.isidentifier():
                self.strings.add(node.value)
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

    def _handler_name(self, scope: Scope, node: ast.ExceptHandler) -> None:
        """`except E as name`: the name has no node of its own; it is the first NAME token after E."""
        assert node.type is not None and node.name is not None
        row = node.type.end_lineno or 0
        after = (row, self._char_col(row, node.type.end_col_offset or 0))
        for key in self.token_keys[bisect.bisect_left(self.token_keys, after):]:
            if self.tokens[key] == node.name:
                self.occurrences.append((scope, node.name, key))
                return
        self.occurrences.append((scope, node.name, None))


_PLAIN_DECORATORS = {"staticmethod", "classmethod", "property", "setter", "getter", "deleter", "lru_cache", "cache",
                     "cached_property", "wraps"}


def _plain_decorator(node: ast.expr) -> bool:
    """A decorator known to pass calls through as they are (a cache, a property); any other may call the
    function by keyword (a web route, a CLI, a test fixture), so its parameter names must stay."""
    target = node.func if isinstance(node, ast.Call) else node
    name = target.attr if isinstance(target, ast.Attribute) else target.id if isinstance(target, ast.Name) else ""
    return name in _PLAIN_DECORATORS


def keyword_safe(scope: Scope, name: str, calls: set[str], strings: set[str], escaped: set[str]) -> bool:
    """Whether a parameter may be renamed: no call names it (f(alpha=1)), no string holds it (f(**{'alpha': 1})),
    and its function is only ever called, by its own name (not passed on, stored, or wrapped by a decorator)."""
    if name in calls or name in strings or scope.wrapped:
        return False
    return not (scope.called_as & (escaped | strings))


def resolve(scope: Scope, name: str) -> Scope | None:
    """The function-like scope whose binding `name` refers to from `scope`, or None (global, builtin, class)."""
    s: Scope | None = scope
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


def taint(root: Scope) -> set[int]:
    """Scopes where locals()/eval/exec/frames could see names by string: the whole enclosing function."""
    out: set[int] = set()

    def subtree(s: Scope) -> None:
        out.add(id(s))
        for c in s.children:
            subtree(c)

    def walk(s: Scope) -> None:
        if s.tainted:
            top = s
            while top.parent is not None and top.parent.kind in (*FUNC_KINDS, "comp"):
                top = top.parent
            subtree(top)
        for c in s.children:
            walk(c)

    walk(root)
    return out


def chain(scope: Scope) -> Iterator[Scope]:
    s: Scope | None = scope
    while s is not None:
        yield s
        s = s.parent
