"""`qaug split`: the command line side of qaug.split (which holds the logic and imports no typer or rich)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from qaug.cli import app, guarded


@app.command("split")
@guarded
def split_cmd(
    output: Path = typer.Argument(..., help="A run's output (.jsonl or .parquet), or any JSONL dataset."),
    out_dir: Path = typer.Option(..., "-o", "--out-dir",
                                 help="Folder for train/eval/test files and split.report.json."),
    eval_frac: float = typer.Option(0.1, "--eval", help="Share of groups for eval."),
    test_frac: float = typer.Option(0.0, "--test", help="Share of groups for test (0: no test file)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the side hash."),
    near_dup: float = typer.Option(0.85, "--near-dup",
                                   help="Prompt similarity (character 3-gram Dice) "
                                        "at which two originals are one group."),
    originals_only: bool = typer.Option(True, "--eval-originals-only/--keep-eval-variants",
                                        help="Eval/test hold originals only, their variants go to "
                                             "<side>.variants.jsonl; --keep-eval-variants writes them into eval/test."),
    emit: Optional[str] = typer.Option(None, "--emit",
                                       help="Also write trainer config: llama-factory "
                                            "(dataset_info.json) or axolotl (prints the datasets: block)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing split in the folder."),
) -> None:
    """Split by original into train/eval[/test]: variants and near-duplicates never straddle sides."""
    from qaug.split import split_file

    fractions = {"eval": eval_frac, **({"test": test_frac} if test_frac else {})}
    if emit is not None and emit not in ("llama-factory", "axolotl"):
        from qaug.errors import UsageError

        raise UsageError(f"--emit must be llama-factory or axolotl, not {emit!r}")
    report = split_file(output, out_dir, fractions, seed=seed, near_dup=near_dup,
                        keep_eval_variants=not originals_only, overwrite=overwrite)
    for side, st in report.sides.items():
        methods = ", ".join(f"{m} {n}" for m, n in st["methods"].items())
        print(f"{side:5}  {st['groups']:>8} groups  {st['lines']:>9} lines  ({methods})")
    held = sum(report.held_out_variants.values())
    print(f"{report.groups} groups from {report.lines} lines; {report.merged_pairs} near-duplicate pairs merged"
          + (f"; {held} eval/test variants kept out (in *.variants.jsonl)" if held else "")
          + (f"; {report.rejects} unreadable lines in rejects.jsonl" if report.rejects else ""))
    if report.groups == 0:
        print(f"qaug split: warning: no records were read from {output} ({report.rejects} unreadable lines, see "
              f"{out_dir / 'rejects.jsonl'}); is it a run's output or a JSONL dataset?", file=sys.stderr)
    if emit is not None:
        from qaug.emit import emit_config

        text = emit_config(emit, out_dir, report)
        if text:
            print(text, end="")
