"""The run check of rename_identifiers: only self-contained code runs, in a sandbox, and differences are named."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from qaug.augment.coderun import behaviour_change, run_pair, runnable


@pytest.mark.parametrize("code, why", [
    ("def f(a):\n    return a\n", "defines only"),
    ("import os\nprint(os.getcwd())\n", "not pure"),
    ("from collections import abc\nprint(abc)\n", None),
    ("print(open('x').read())\n", "uses open"),
    ("print(().__class__)\n", "uses .__class__"),
    ("import re\nprint(re.enum)\n", None),
    ("import re\nprint(re.enum.sys)\n", "uses .sys"),
    ("print('{0.real}'.format(1))\n", "reach attributes"),
    ("print(eval('1'))\n", "uses eval"),
    ("import math\nprint(math.sqrt(4))\n", None),
    ("from . import x\nprint(x)\n", "relative import"),
])
def test_only_self_contained_code_is_run(code: str, why: str | None) -> None:
    got = runnable(ast.parse(code))
    assert (got is None) if why is None else (got is not None and why in got), got


def test_the_sandbox_refuses_files_even_past_the_static_check(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    code = f"f = open({str(target)!r}, 'w')\nf.write('x')\nf.close()\nprint('done')\n"
    before, after = run_pair(code, code)
    assert before is not None and before.error == "RuntimeError"  # refused by the audit hook
    assert not target.exists()
    assert behaviour_change(code, code) is None  # the original met the sandbox: nothing to compare


def test_a_difference_is_named_and_sameness_passes() -> None:
    old = "def f(alpha):\n    return alpha\nprint(f(**{'alpha': 3}))\n"
    assert behaviour_change(old, old.replace("def f(alpha):\n    return alpha", "def f(a2):\n    return a2")) \
        == "the renamed code raises TypeError"
    assert behaviour_change("print(1)\n", "print(2)\n") == "the renamed code prints something else"
    # object addresses and set order do not count (the renamed run allocates differently)
    objects = "class C:\n    pass\ndef make(k):\n    obj = [C() for _ in range(k)]\n    return obj\n" \
              "print(make(3), {'b', 'a', 'c'})\n"
    assert behaviour_change(objects, objects.replace("obj", "things_made_here")) is None


def test_a_run_that_does_not_finish_is_not_a_difference() -> None:
    loop = "while True:\n    pass\n"
    assert behaviour_change(loop, loop) is None
