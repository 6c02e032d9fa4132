"""The output loads into Arrow (what Hugging Face `datasets` uses) as one table with one type per column."""

from __future__ import annotations

from pathlib import Path

import pyarrow.json as pj

from conftest import EXAMPLES, run_cli


def test_output_is_one_arrow_table_across_methods(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = run_cli("run", str(EXAMPLES / "alpaca_en.jsonl"), "-o", str(out),
                   "-m", "perturb,structural,rename_identifiers", "--max-aug-ratio", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    # small blocks force Arrow to infer each block's types separately and unify them, as datasets does
    table = pj.read_json(out, read_options=pj.ReadOptions(block_size=4096))
    qaug = table.schema.field("_qaug").type
    names = {qaug.field(i).name: str(qaug.field(i).type) for i in range(qaug.num_fields)}
    assert names["id"] == "string" and names["params"] == "string" and names["info"] == "string"
    assert names["seed"] == "int64" and names["review"] == "bool" and names["parent"] == "string"
    methods = set(table.column("_qaug").combine_chunks().field("method").to_pylist())
    assert {"original", "perturb", "rename_identifiers"} <= methods
    assert table.schema.field("output").type == table.schema.field("instruction").type
