"""`qaug show`: the command line side of qaug.show (which holds the logic and imports no typer or rich)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from qaug.cli import app, guarded


@app.command()
@guarded
def show(
    output: Path = typer.Argument(...,
                                  help="A run's output (.jsonl or .json); its rejects file is read from beside it."),
    record_id: Optional[str] = typer.Option(None, "--id",
                                            help="The original's _qaug.id, e.g. in.jsonl:3 "
                                                 "[default: the first originals with variants]."),
    method: Optional[str] = typer.Option(None, "--method", "-m",
                                         help="Only this method's variants and rejects [default: all]."),
    most: int = typer.Option(10, "--max", min=1, help="Originals shown without --id."),
    color: Optional[bool] = typer.Option(None, "--color/--no-color", help="Colour the diff [default: on a terminal]."),
) -> None:
    """Show an original with its variants and rejected siblings, as a diff, with provenance decoded."""
    from qaug.show import groups, render

    use_color = sys.stdout.isatty() if color is None else color
    found = groups(output, record_id, method, most)
    if not found:
        print(f"no original in {output} has a variant or a rejected candidate" + (f" of {method}" if method else ""))
        return
    try:
        for i, group in enumerate(found):
            if i:
                print()
            print("\n".join(render(group, use_color)))
        sys.stdout.flush()
    except BrokenPipeError:  # `qaug show out.jsonl | head`: the reader had enough, which is no failure
        from qaug.writers import quiet_stdout

        quiet_stdout()
