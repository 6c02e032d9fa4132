"""rename_identifiers: renamed code keeps its syntax tree and behaviour; what must stay, stays."""

from __future__ import annotations

import ast
import builtins
import copy
import io
import keyword
import re
import symtable
import sys
import tokenize

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qaug.augment.base import Failure, Skip, Variant
from qaug.augment.code import RenameIdentifiers
from qaug.records import Record
from conftest import pure_outcome

FSTRING_TOKENS = sys.version_info >= (3, 12)

SUMMARY = '''import os
from collections import Counter
LIMIT = 10


def summarize(items, scale=2, *, verbose=False):
    """Summarize a list of numbers."""
    total = 0
    seen = set()
    for i, item in enumerate(items):
        # add the scaled item; "total" in a comment stays
        total += item * scale
        seen.add(item)
    squares = [x * x for x in items if x > LIMIT]
    def helper(v):
        return v + total
    fn = lambda q: helper(q) + len(seen)
    try:
        best = max(squares)
    except ValueError as err:
        note = f"no max: {err}"
        best = None
    else:
        note = "ok"
    with open(os.devnull, "w") as fh:
        fh.write(str(best))
    counts = Counter(items)
    return {"total": total, "best": best, "n": fn(1), "note": note, "top": counts.most_common(1)}


print(summarize([1, 2, 30], scale=3))
'''

CLOSURES = '''counter_total = 0


def make_counter(start):
    count = start
    def bump(step=1):
        nonlocal count
        count += step
        return count
    return bump


def shadow(data):
    def inner(data):
        return [data for data in range(data)]
    return inner(len(data)) + [data]


def tally(words):
    global counter_total
    counter_total += len(words)
    freq = {}
    for word in words:
        freq[word] = freq.get(word, 0) + 1
    return {w: c for w, c in freq.items() if c > 0}
'''

METHODS = '''class Stack:
    limit = 100

    def __init__(self, items=None):
        self.items = list(items or [])

    def push(self, value):
        if len(self.items) >= self.limit:
            raise OverflowError("full")
        self.items.append(value)
        return self

    @classmethod
    def of(cls, *values):
        result = cls()
        for val in values:
            result.push(val)
        return result

    def total(self):
        acc = 0
        for element in self.items:
            acc += element
        return acc
'''


def alpaca(output: str, instruction: str = "Write the function.") -> Record:
    return Record("a1", {"instruction": instruction, "input": "", "output": output}, "alpaca", "t.jsonl", 1)


def text_record(text: str) -> Record:
    return Record("t1", {"text": text}, "text", "t.jsonl", 1)


def run(record: Record, seed: int = 7, **params: object) -> Variant | Skip:
    return pure_outcome(RenameIdentifiers(**params), record, seed)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```(?:python|py)?\n(.*?)```", text, re.S)


def names_in(code: str) -> set[str]:
    return {t.string for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type == tokenize.NAME}


def assert_same_program(old: str, new: str, renamed: dict[str, str]) -> None:
    """The checks the method guarantees, made independently of its implementation."""
    before, after = ast.parse(old), ast.parse(new)
    back = {v: k for k, v in renamed.items()}
    for node in ast.walk(after):
        if isinstance(node, ast.Name):
            node.id = back.get(node.id, node.id)
        elif isinstance(node, ast.arg):
            node.arg = back.get(node.arg, node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            node.name = back.get(node.name, node.name)
    assert ast.dump(after) == ast.dump(before)
    tree = ast.parse(new)
    orig = ast.parse(old)

    def collect(t: ast.AST) -> tuple:
        return (
            [n.attr for n in ast.walk(t) if isinstance(n, ast.Attribute)],
            [k.arg for k in ast.walk(t) if isinstance(k, ast.keyword)],
            [a.name for a in ast.walk(t) if isinstance(a, ast.alias)],
            [n.id for n in ast.walk(t) if isinstance(n, ast.Name) and n.id in dir(builtins)],
        )

    assert collect(tree) == collect(orig)
    kept = [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(old).readline)
            if t.type in (tokenize.COMMENT, tokenize.STRING)]
    if not FSTRING_TOKENS or "f\"" not in old:
        assert kept == [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(new).readline)
                        if t.type in (tokenize.COMMENT, tokenize.STRING)]
    assert scope_signature(new, back) == scope_signature(old, {})
    original_names = names_in(old)
    for new_name in renamed.values():
        assert new_name not in original_names and not keyword.iskeyword(new_name) and new_name not in dir(builtins)
        assert new_name.isidentifier()


def scope_signature(code: str, back: dict[str, str]) -> list:
    """Every symbol table with each symbol's flags, new names mapped back: scoping must not change."""
    out: list = []

    def walk(table: symtable.SymbolTable) -> None:
        out.append((table.get_type(), table.get_name(), sorted(
            (back.get(s.get_name(), s.get_name()), s.is_parameter(), s.is_global(), s.is_declared_global(),
             s.is_local(), s.is_free(), s.is_imported(), s.is_assigned(), s.is_referenced(), s.is_nonlocal())
            for s in table.get_symbols()
            # a class passes its enclosing function's locals through as free symbols; when one
            # shares its name with a class attribute the original merges the two entries.
            if not (table.get_type() == "class" and s.is_free()))))
        for child in table.get_children():
            walk(child)

    walk(symtable.symtable(code, "<snippet>", "exec"))
    return out


def execute(code: str) -> dict:
    namespace: dict = {"__name__": "snippet", "print": lambda *a, **k: None}
    exec(compile(code, "<snippet>", "exec"), namespace)
    return namespace


# --- realistic snippets -----------------------------------------------------------------

def test_function_with_loops_closures_try_with_lambda_keeps_program_and_behaviour() -> None:
    out = run(text_record(SUMMARY))
    assert isinstance(out, Variant)
    new, renamed = out.data["text"], out.info["renamed"]
    assert_same_program(SUMMARY, new, renamed)
    for local in ("items", "total", "seen", "i", "item", "squares", "x", "v", "fn", "q", "best", "fh", "counts"):
        assert local in renamed, local
    # scale is passed by keyword at the call site, verbose is keyword-only, helper is a def,
    # LIMIT/os/Counter are module-level or imported, print/len/max are builtins.
    for kept in ("scale", "verbose", "helper", "LIMIT", "os", "Counter", "print", "len", "max", "summarize"):
        assert kept not in renamed, kept
    assert "def summarize(" in new and "scale=3" in new and "verbose=False" in new
    assert '"total": ' in new and '# add the scaled item; "total" in a comment stays' in new
    if not FSTRING_TOKENS:  # 3.10/3.11: a name read inside an f-string cannot be rewritten, so it stays
        assert "err" not in renamed and 'f"no max: {err}"' in new
    assert execute(new)["summarize"]([1, 2, 30], scale=3) == execute(SUMMARY)["summarize"]([1, 2, 30], scale=3)
    assert out.info["blocks"] == 1


def test_nested_scopes_nonlocal_global_and_shadowing() -> None:
    out = run(text_record(CLOSURES), seed=3)
    assert isinstance(out, Variant)
    new, renamed = out.data["text"], out.info["renamed"]
    assert_same_program(CLOSURES, new, renamed)
    assert "count" not in renamed and "counter_total" not in renamed  # nonlocal / global
    # bump is returned, not only called: whoever calls it may name step=, so step keeps its name (issue 11)
    assert "step" not in renamed
    assert {"start", "data", "words", "freq", "word", "w", "c"} <= set(renamed)
    before, after = execute(CLOSURES), execute(new)
    bump_a, bump_b = before["make_counter"](5), after["make_counter"](5)
    assert [bump_a(), bump_a(3)] == [bump_b(), bump_b(3)] == [6, 9]
    assert before["shadow"]("abc") == after["shadow"]("abc") == [0, 1, 2, "abc"]
    assert before["tally"](["a", "b", "a"]) == after["tally"](["a", "b", "a"]) == {"a": 2, "b": 1}
    assert after["counter_total"] == 3


def test_keyword_default_params_are_renamed_only_when_no_caller_names_them() -> None:
    code = "def area(width, height=2):\n    return width * height\n\nprint(area(3, height=4))\n"
    out = run(text_record(code))
    assert isinstance(out, Variant)
    assert out.info["renamed"].keys() == {"width"}
    assert "height=4" in out.data["text"] and "height=2" in out.data["text"]


def test_class_methods_keep_self_cls_attributes_and_class_names() -> None:
    out = run(text_record(METHODS))
    assert isinstance(out, Variant)
    new, renamed = out.data["text"], out.info["renamed"]
    assert_same_program(METHODS, new, renamed)
    for kept in ("self", "cls", "limit", "push", "of", "total", "Stack", "values", "__init__"):
        assert kept not in renamed, kept  # `values` is *args: kept, to be conservative
    assert {"items", "value", "result", "val", "acc", "element"} <= set(renamed)
    assert f"self.items = list({renamed['items']} or [])" in new  # the attribute keeps its name
    assert "self.items.append(" in new and "self.limit" in new
    stack_a, stack_b = execute(METHODS)["Stack"].of(1, 2, 3), execute(new)["Stack"].of(1, 2, 3)
    assert stack_a.total() == stack_b.total() == 6


def test_docstring_mentions_eval_and_locals_keep_their_names() -> None:
    code = '''def scale(n, factor):
    """Return n times factor."""
    doubled = n * factor
    return doubled


def render(name, greeting):
    message = "{greeting}, {name}!"
    return message.format(**locals())


def compute(expr):
    env = {"x": 2}
    return eval(expr, env)
'''
    out = run(text_record(code))
    assert isinstance(out, Variant)
    renamed = out.info["renamed"]
    assert renamed.keys() == {"doubled"}
    assert_same_program(code, out.data["text"], renamed)
    assert execute(out.data["text"])["render"]("Ada", "Hi") == "Hi, Ada!"


@pytest.mark.skipif(not FSTRING_TOKENS, reason="3.12+ tokenizes f-strings into parts")
def test_fstring_names_renamed_on_312_except_self_documenting() -> None:
    code = 'def show(value, other):\n    label = f"{value:>5} and {other!r}"\n    return label, f"{other=}"\n'
    out = run(text_record(code))
    assert isinstance(out, Variant)
    assert "value" in out.info["renamed"] and "other" not in out.info["renamed"]
    assert_same_program(code, out.data["text"], out.info["renamed"])


def test_fstring_names_left_alone_before_312() -> None:
    code = 'def show(value, other):\n    label = f"{value} / {other}"\n    return label + str(other)\n'
    out = run(text_record(code))
    assert isinstance(out, Variant)
    if FSTRING_TOKENS:
        assert {"value", "other", "label"} <= set(out.info["renamed"])
    else:
        assert out.info["renamed"].keys() == {"label"}
    assert_same_program(code, out.data["text"], out.info["renamed"])


@pytest.mark.parametrize("code, expected", [
    ('def greet(name):\r\n    msg = "h\u00e9llo \u2192 " + name; gr\u00f6\u00dfe = len(msg)\r\n'
     '    return gr\u00f6\u00dfe\r\n',
     {"name", "msg", "gr\u00f6\u00dfe"}),
    ("def f(x):\n    match x:\n        case [a, *rest]:\n            y = a\n        case _:\n"
     "            y = 0\n    return y\n",
     {"x", "y"}),  # match captures are kept, to be conservative
    ("def f(xs):\n    if (n := len(xs)) > 2:\n        return [y for x in xs if (y := x * 2)]\n    return n\n",
     {"xs", "n", "x", "y"}),
    ("def outer():\n    x = 1\n    class C:\n        x = 2\n        def m(self):\n            return x\n"
     "        y = [x for _ in range(2)]\n    return C\n", {"x"}),  # class attribute x stays, outer x renamed
    ("async def fetch(session, url):\n    async with session.get(url) as resp:\n        async for chunk in resp:\n"
     "            data = await chunk\n    return data\n", {"session", "url", "resp", "chunk", "data"}),
    ("def f(x, /, y, *args, z, **kw):\n    return x + y + z\n", {"x", "y"}),
    # an unknown decorator is given f and may call it by keyword: its parameters keep their names (issue 11)
    ("@deco(opt=1)\ndef f(opt, v: 'Annot' = default) -> int:\n    w: int\n    w = v\n    return w\n", {"w"}),
])
def test_edge_syntax(code: str, expected: set[str]) -> None:
    out = run(text_record(code))
    assert isinstance(out, Variant) and set(out.info["renamed"]) == expected
    assert_same_program(code, out.data["text"], out.info["renamed"])


def test_class_attribute_and_enclosing_local_of_the_same_name() -> None:
    code = ("def outer():\n    x = 1\n    class C:\n        x = 2\n        def m(self):\n            return x\n"
            "    return C\n")
    out = run(text_record(code))
    assert isinstance(out, Variant)
    new_x = out.info["renamed"]["x"]
    assert "        x = 2\n" in out.data["text"] and f"return {new_x}" in out.data["text"]
    assert execute(out.data["text"])["outer"]()().m() == 1


# --- records ------------------------------------------------------------------------------

def test_alpaca_python_block_with_prose_around() -> None:
    block = "def mean(numbers):\n    total = sum(numbers)\n    return total / len(numbers)\n"
    output = f"Here is one way:\n\n```python\n{block}```\n\nThe variable `total` holds the sum; call `mean(data)`."
    record = alpaca(output, instruction="Write `mean` in Python.")
    before = copy.deepcopy(record.data)
    out = run(record)
    assert isinstance(out, Variant)
    assert record.data == before  # the input record is not mutated
    renamed = out.info["renamed"]
    assert set(renamed) == {"numbers", "total"}
    (new_block,) = python_blocks(out.data["output"])
    assert_same_program(block, new_block, renamed)
    # Prose is kept; the inline mention of `total` follows the rename, the rest does not move.
    assert out.data["output"].startswith("Here is one way:\n\n```python\n")
    assert f"The variable `{renamed['total']}` holds the sum; call `mean(data)`." in out.data["output"]
    assert out.data["instruction"] == record.data["instruction"] and out.info["mentions"] == 1


def test_names_in_inline_code_of_the_prompt_are_kept() -> None:
    block = "def area(width, height):\n    product = width * height\n    return product\n"
    out = run(alpaca(f"```py\n{block}```", instruction="Implement `area(width, height)`."))
    assert isinstance(out, Variant)
    assert out.info["renamed"].keys() == {"product"}


def test_messages_record_and_unlabelled_fence() -> None:
    block = "def count_vowels(text):\n    hits = [ch for ch in text.lower() if ch in 'aeiou']\n    return len(hits)\n"
    data = {"messages": [
        {"role": "system", "content": "You write Python."},
        {"role": "user", "content": "Count vowels, please."},
        {"role": "assistant", "content": f"Sure:\n```\n{block}```\nDone."},
    ]}
    record = Record("m1", data, "messages", "t.jsonl", 1)
    snapshot = copy.deepcopy(data)
    out = run(record)
    assert isinstance(out, Variant) and data == snapshot
    assert out.data["messages"][:2] == data["messages"][:2]
    (new_block,) = python_blocks(out.data["messages"][2]["content"])
    assert_same_program(block, new_block, out.info["renamed"])
    assert {"text", "hits", "ch"} == set(out.info["renamed"])
    assert execute(new_block)["count_vowels"]("Education") == 5


def test_indented_fence_in_a_list_item_keeps_its_indent() -> None:
    output = "1. Define it:\n\n   ```python\n   def twice(n):\n       doubled = n * 2\n       return doubled\n   ```\n"
    out = run(alpaca(output))
    assert isinstance(out, Variant)
    lines = out.data["output"].splitlines()
    assert lines[3].startswith("   def twice(") and lines[4].startswith("       ") and lines[6] == "   ```"
    assert set(out.info["renamed"]) == {"n", "doubled"}


def test_fields_restrict_the_texts_and_pin_names_seen_elsewhere() -> None:
    block = "def add(a, b):\n    out = a + b\n    return out\n"
    record = alpaca(f"```python\n{block}```", instruction=f"Make this faster:\n```python\n{block}```")
    out = run(record, fields=["output"])
    assert isinstance(out, Skip)  # every name also appears in the untouched instruction
    out = run(alpaca(f"```python\n{block}```", instruction="Add two numbers."), fields=["output"])
    assert isinstance(out, Variant) and set(out.info["renamed"]) == {"a", "b", "out"}


# --- skips ------------------------------------------------------------------------------------

@pytest.mark.parametrize("output", [
    "```javascript\nfunction add(a, b) {\n  const total = a + b;\n  return total;\n}\n```",
    "```\nfunction add(a, b) {\n  return a + b;\n}\n```",
    "function add(a, b) {\n  const total = a + b;\n  return total;\n}",
])
def test_javascript_is_skipped_with_a_reason(output: str) -> None:
    out = run(alpaca(output))
    assert isinstance(out, Skip) and out.reason.startswith("code does not parse as Python: ")


def test_broken_python_is_skipped_with_the_parse_error() -> None:
    out = run(alpaca("```python\ndef broken(x:\n    return x\n```"))
    assert isinstance(out, Skip)
    assert out.reason.startswith("code does not parse as Python: ") and "line" in out.reason


@pytest.mark.parametrize("text", ["Hello", "Paris is the capital of France.", "```\n[1, 2, 3]\n```"])
def test_prose_is_not_code(text: str) -> None:
    out = run(text_record(text))
    assert out == Skip("no Python code in the selected texts")


def test_nothing_eligible_is_a_skip() -> None:
    out = run(text_record("import math\nradius = 2\narea = math.pi * radius ** 2\nprint(area)\n"))
    assert isinstance(out, Skip) and "safe to rename" in out.reason


# --- parameters, determinism ----------------------------------------------------------------

def test_fraction_and_determinism() -> None:
    one = run(text_record(SUMMARY), fraction=0.0)
    assert isinstance(one, Variant) and len(one.info["renamed"]) == 1
    full = run(text_record(SUMMARY))
    assert isinstance(full, Variant)
    half = run(text_record(SUMMARY), fraction=0.5)
    assert isinstance(half, Variant)
    assert len(half.info["renamed"]) == round(len(full.info["renamed"]) / 2)
    assert run(text_record(SUMMARY), seed=11) == run(text_record(SUMMARY), seed=11)
    outputs = {run(text_record(SUMMARY), seed=s).data["text"] for s in range(6)}  # type: ignore[union-attr]
    assert len(outputs) > 1


# --- property: generated functions ------------------------------------------------------------

VARS = ["a", "b", "total", "item", "i", "acc", "len"]


@st.composite
def programs(draw: st.DrawFn) -> str:
    """Small functions over ints with loops, comprehensions, lambdas, closures and keyword calls."""
    def expr(depth: int = 0) -> str:
        kinds = ["lit", "var"] + (["bin", "lam", "comp", "call"] if depth < 2 else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "lit":
            return str(draw(st.integers(0, 9)))
        if kind == "var":
            return draw(st.sampled_from(VARS[:-1]))
        if kind == "bin":
            return f"({expr(depth + 1)} {draw(st.sampled_from(['+', '-', '*']))} {expr(depth + 1)})"
        if kind == "lam":
            v = draw(st.sampled_from(VARS[:-1]))
            return f"(lambda {v}: {v} + {expr(depth + 1)})({expr(depth + 1)})"
        if kind == "comp":
            v = draw(st.sampled_from(VARS[:-1]))
            return f"sum({v} * {expr(depth + 1)} for {v} in range(3))"
        return f"kw({draw(st.sampled_from(['a', 'b']))}={expr(depth + 1)})"

    def stmts(indent: str, depth: int) -> list[str]:
        out = []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["assign", "aug", "for", "if", "def"] if depth < 2 else ["assign", "aug"]))
            v = draw(st.sampled_from(VARS))
            if kind == "assign":
                out.append(f"{indent}{v} = {expr()}")
            elif kind == "aug":
                out.append(f"{indent}{v} += {expr()}")
            elif kind == "for":
                out += [f"{indent}for {v} in range({expr()} % 4):", *stmts(indent + "    ", depth + 1)]
            elif kind == "if":
                out += [f"{indent}if {expr()} > {expr()}:", *stmts(indent + "    ", depth + 1)]
            else:
                out += [f"{indent}def inner({v}):", f"{indent}    return {v} + {expr()}", f"{indent}total = inner(1)"]
        return out

    params = draw(st.lists(st.sampled_from(VARS[:-1]), min_size=1, max_size=3, unique=True))
    body = ["    a = b = total = item = i = acc = 0", *stmts("    ", 0), "    return (a, b, total, acc)"]
    return "\n".join(["def kw(a=0, b=0):", "    return a - b", "", f"def f({', '.join(params)}):", *body, ""])


def outcome_of(code: str) -> object:
    try:
        fn = execute(code)["f"]
        return fn(*range(1, 4)[: fn.__code__.co_argcount])
    except Exception as exc:  # both versions must fail the same way
        return type(exc).__name__


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2**32), st.sampled_from([0.3, 1.0]))
def test_generated_functions_keep_tree_and_behaviour(code: str, seed: int, fraction: float) -> None:
    record = text_record(code)
    snapshot = copy.deepcopy(record.data)
    out = run(record, seed=seed, fraction=fraction)
    assert record.data == snapshot
    if isinstance(out, Skip):
        assert "safe to rename" in out.reason
        return
    new, renamed = out.data["text"], out.info["renamed"]
    assert renamed and "len" not in renamed
    kw_params = [a.arg for a in ast.parse(new).body[0].args.args]  # type: ignore[attr-defined]
    for name in ("a", "b"):
        if re.search(rf"(?<!def )kw\({name}=", code):  # a parameter that a caller names keeps its name
            assert name in kw_params
    assert_same_program(code, new, renamed)
    assert outcome_of(new) == outcome_of(code)
    assert run(record, seed=seed, fraction=fraction) == out


# --- issue 11: linear work, a cap per record, keywords passed by name ------------------------------------

def _locals(n: int) -> str:
    return "\n".join(["def f(a):", *(f"    v{i} = a + {i}" for i in range(n)), "    return v0", ""])


def test_many_locals_are_renamed_in_linear_time() -> None:
    """Issue 11, item 7: 1000/2000/4000/8000 locals took 1.1/2.8/9.9/37.6 s (a regex search per renamed name)."""
    import time

    start = time.perf_counter()
    out = run(text_record(_locals(4000)))
    assert time.perf_counter() - start < 3.0
    assert isinstance(out, Variant) and len(out.info["renamed"]) == 4001


def test_a_fence_line_of_spaces_does_not_stall_the_scan() -> None:
    """The fence-opening regex backtracked cubically on ``` followed by spaces and a backtick (4000 spaces: 164 s)."""
    import time

    text = "```" + " " * 5000 + "x`\n\n```python\ndef f(a):\n    b = a\n    return b\n```\n"
    start = time.perf_counter()
    out = run(text_record(text))
    assert time.perf_counter() - start < 2.0
    assert isinstance(out, Variant) and set(out.info["renamed"]) == {"a", "b"}


def test_a_record_over_the_cap_is_skipped_with_its_reason() -> None:
    from qaug.augment.code import MAX_CHARS

    code = _locals(MAX_CHARS // 15)
    assert len(code) > MAX_CHARS
    out = run(text_record(code))
    assert isinstance(out, Skip) and "too long" in out.reason and f"{MAX_CHARS:,}" in out.reason


def test_parameters_passed_by_string_keys_keep_their_names() -> None:
    """Issue 11, item 9: renaming alpha broke f(**{'alpha': ...}) with TypeError: unexpected keyword argument."""
    code = ("def scale(alpha, beta):\n    total = alpha * beta\n    return total\n\n"
            "print(scale(**{'alpha': 2, 'beta': 3}))\n")
    out = run(text_record(code))
    assert isinstance(out, Variant)
    assert set(out.info["renamed"]) == {"total"}
    assert execute(out.data["text"])["scale"](**{"alpha": 2, "beta": 3}) == 6


def test_parameters_of_a_function_passed_on_keep_their_names() -> None:
    code = ("def area(width, height):\n    size = width * height\n    return size\n\n"
            "handlers = {'area': area}\nopts = dict(zip(['wid' + 'th', 'hei' + 'ght'], [2, 5]))\n"
            "print(handlers['area'](**opts))\n")
    out = run(text_record(code))
    assert isinstance(out, Variant)
    assert set(out.info["renamed"]) == {"size"}  # area is stored in a dict: its callers are unknown
    exec(compile(out.data["text"], "<v>", "exec"), {"print": lambda *a: None})


def test_a_variant_that_breaks_when_run_is_not_made() -> None:
    """What no static rule sees (a keyword built at run time) the run of the self-contained code catches."""
    code = "def f(alpha):\n    doubled = alpha * 2\n    return doubled\n\nkey = 'al' + 'pha'\nprint(f(**{key: 4}))\n"
    unchecked = run(text_record(code), run_check=False)
    assert isinstance(unchecked, Variant) and "alpha" in unchecked.info["renamed"]
    with pytest.raises(TypeError):
        exec(compile(unchecked.data["text"], "<v>", "exec"), {"print": lambda *a: None})
    checked = run(text_record(code))
    assert isinstance(checked, Failure) and "behaves differently when run" in checked.reason
    assert "TypeError" in checked.reason
    same = "def f(alpha):\n    doubled = alpha * 2\n    return doubled\n\nprint(f(4), f(alpha=5))\n"
    out = run(text_record(same))
    assert isinstance(out, Variant) and set(out.info["renamed"]) == {"doubled"}
