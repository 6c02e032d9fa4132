"""A small real run for the review tests: rewrite through the pipeline with a scripted engine and the
judge on, in English and Chinese, so there are kept variants, gate rejects and judge rejects."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import write_jsonl

EN = "List three benefits of regular exercise for older adults."
ZH = "列出三种常见的水果。"
ROWS = [{"id": "e1", "instruction": EN, "input": "", "output": "Better balance, stronger bones, improved mood."},
        {"id": "z1", "instruction": ZH, "output": "苹果、香蕉和橙子。"}]
REWRITES = {EN: ["Name three ways regular exercise helps older adults.",
                 "Give three benefits of exercise for a tenant.",
                 "Better balance, stronger bones, improved mood."],
            ZH: ["请说出三种常见的水果。", "苹果、香蕉和橙子是常见水果。", "请举出三种常见水果的例子。"]}


def judge_answer(job, **flags: bool) -> str:
    """The judge's answer read off its schema: every part kept, no failure, same meaning, unless `flags` say so."""
    value = {}
    for name, prop in job.schema["properties"].items():
        if prop.get("type") == "array":
            value[name] = [True] * prop.get("minItems", 0)
        else:
            value[name] = name == "same_meaning"
    value.update(flags)
    return json.dumps(value)


def _answer(job, n):
    user = job.messages[-1]["content"]
    if "<variant>" in user:
        variant = user.split("<variant>")[1]
        bad = "tenant" in variant or "例子" in variant
        return judge_answer(job, constraint_added=bad, same_meaning=not bad)
    src = user.split("<text>\n")[1].split("\n</text>")[0]
    return json.dumps({"variants": REWRITES[src]}, ensure_ascii=False)


def make_run(folder: Path) -> Path:
    """Run the pipeline; returns out.jsonl (with out.rejects.jsonl, out.report.json and .html beside it)."""
    from qaug.config import RunConfig
    from scripted import ScriptedEngine
    from qaug.pipeline import Pipeline

    src = write_jsonl(folder / "in.jsonl", ROWS)
    out = folder / "out.jsonl"
    cfg = RunConfig(inputs=(src,), output=out, methods=("rewrite",), method_params={"rewrite": {"n": 3}},
                    max_aug_ratio=1.0, verify=True)
    Pipeline(cfg, engine=ScriptedEngine(_answer)).run()
    return out


def change_second_field(run: Path, item_id: str = "e1/rewrite/0", text: str = "For a leaflet.") -> None:
    """Make a kept variant change its input too, as a method that rewrites two fields would."""
    lines = run.read_text(encoding="utf-8").splitlines()
    i = next(n for n, line in enumerate(lines) if f'"id":"{item_id}"' in line)
    row = json.loads(lines[i])
    row["input"] = text
    lines[i] = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
    run.write_text("\n".join(lines) + "\n", encoding="utf-8")
