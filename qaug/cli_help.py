"""Help that reads right: no `<bool>` or `<list[Path]>` type noise, and every option's default in brackets.

Applied once to every command of the app (qaug/cli.py calls `tidy`), so a new option gets it too.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import typer
from typer.models import ArgumentInfo, OptionInfo

#: "(default 0.3)", "(default: the cores available)", "(default 8; 1 = no cap)" at the end of a help text
_DEFAULT = re.compile(r"\s*\(default:?\s+(?P<what>[^()]*(?:\([^()]*\)[^()]*)*)\)\.?\s*$")
#: an opening bracket rich's markup shows as written ([default: x] would otherwise be read as a style tag)
_BRACKET = "\\["


def _metavar(annotation: Any) -> str | None:
    """N, X, TEXT or PATH for an option's annotation (a string under `from __future__ import annotations`);
    "" for a flag, which takes no value."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    for pattern, name in ((r"\bbool\b", ""), (r"\bPath\b", "PATH"), (r"\bint\b", "N"), (r"\bfloat\b", "X"),
                          (r"\bstr\b", "TEXT")):
        if re.search(pattern, text):
            return name
    return None


def tidy_help(help_text: str | None, default: Any, is_flag: bool) -> str | None:
    """'... (default 0.3).' -> '... [default: 0.3]'; an option with a real default and no mention gets one."""
    if help_text is None:
        return None
    m = _DEFAULT.search(help_text)
    if m:
        return help_text[: m.start()].rstrip(" .;,") + f". {_BRACKET}default: {m.group('what').strip()}]"
    if "default:" in help_text or "[required]" in help_text:
        return re.sub(r"(?<!\\)\[default:", lambda m: _BRACKET + "default:", help_text)  # shown, not read as markup
    if is_flag:
        return help_text.rstrip() + (f" {_BRACKET}default: on]" if default is True else f" {_BRACKET}default: off]")
    if default is ...:
        return help_text  # required: typer says so
    if default is None or default == [] or callable(default):
        return help_text.rstrip() + f" {_BRACKET}default: none]"
    return help_text.rstrip() + f" {_BRACKET}default: {default}]"


def tidy(app: typer.Typer) -> None:
    """Give every option of every command a plain value name and its default in brackets."""
    from typer.core import TyperArgument, TyperOption

    # typer's rendering is patched in place (the ignores: mypy refuses assigning to a method)
    # an argument's name says it: no <list[Path]> beside it
    TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]
    shown = TyperOption.display_type_rich
    TyperOption.display_type_rich = (  # type: ignore[method-assign]
        lambda self, ctx: None if self.is_flag else shown(self, ctx))  # --help: no <bool>
    from rich.markup import escape

    for command in app.registered_commands:
        fn: Any = command.callback  # a command's function, maybe wrapped (functools.wraps)
        if command.help is None and fn is not None and fn.__doc__:  # "train/eval[/test]" is text, not a style tag
            command.help = escape(inspect.cleandoc(fn.__doc__))
        while hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__
        for param in inspect.signature(fn).parameters.values():
            info = param.default
            if not isinstance(info, (OptionInfo, ArgumentInfo)):
                continue
            annotation = param.annotation
            if isinstance(annotation, str):
                annotation = fn.__annotations__.get(param.name, annotation)
            is_flag = "bool" in str(annotation)
            if info.metavar is None and isinstance(info, OptionInfo):
                mv = _metavar(annotation)
                if mv is not None:
                    info.metavar = mv
            if isinstance(info, OptionInfo):
                info.help = tidy_help(info.help, info.default, is_flag)
                info.show_default = False  # the default is in the text, once
