"""The dataset card: README.md beside a split, in the Hugging Face layout (YAML header, then prose).

`huggingface-cli upload` of the split folder then gives a documented dataset: the header's
`configs` name the split files (so the held-out variants and rejects beside them are not loaded),
and the `qaug` block records how the data was made, from the run's out.report.json when it is found
beside the input: methods and parameters, model and its sha256 prefix, counts and reject rates per
method, the cap, and the split's own settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qaug.writers import companion_paths
from qaug.split import SplitReport

HF_SPLIT = {"train": "train", "eval": "validation", "test": "test"}


def find_run_report(split_input: Path) -> dict[str, Any] | None:
    """The run's report beside its output (out.jsonl -> out.report.json), or None when absent or unreadable."""
    path = companion_paths(split_input)[1]
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and "config" in report else None


def size_category(n: int) -> str:
    """HF's size_categories bucket for n examples."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                         (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "10M<n<100M"


def method_rows(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Per method: parameters, variants written, candidates rejected, reject rate, over the cap."""
    params = run.get("config", {}).get("method_params", {})
    rows = []
    for name, m in sorted(run.get("methods", {}).items()):
        rejected = sum(m.get("rejected", {}).values())
        candidates = m.get("accepted", 0) + rejected
        rows.append({"method": name, "params": params.get(name, {}), "written": m.get("written", 0),
                     "rejected": rejected, "reject_rate": round(rejected / candidates, 4) if candidates else None,
                     "capped": m.get("capped", 0)})
    return rows


def _model(run: dict[str, Any]) -> tuple[str | None, str | None]:
    model_id = (run.get("model") or {}).get("model")
    if not isinstance(model_id, str) or model_id == "scripted":
        return None, None
    name, _, sha = model_id.partition("@sha256:")
    return name, sha or None


def model_sha256(run: dict[str, Any], name: str, prefix: str) -> str | None:
    """The model's whole sha256, when a local file of that name has the prefix the run recorded.

    The run records only 12 hex digits in its ids; the file is looked for where the run would have found
    it (--gguf, the models folder, the HF cache, the demo models), and qaug remembers each file's sha256
    by path, size and mtime, so this reads the memo instead of hashing gigabytes again.
    """
    from qaug.llm.models import candidates, file_sha256

    cfg = run.get("config", {}).get("model") or {}
    paths = [Path(cfg["gguf"])] if isinstance(cfg.get("gguf"), str) else []
    try:
        paths += [c.path for c in candidates(Path(cfg["models_dir"]) if isinstance(cfg.get("models_dir"), str)
                                             else None)]
    except Exception:  # noqa: BLE001 - a missing or odd model folder only means no full digest
        pass
    for path in paths:
        if path.name == name and path.is_file():
            try:
                digest = file_sha256(path)
            except OSError:
                continue
            if digest.startswith(prefix):
                return digest
    return None


def _yaml(value: Any, indent: int = 0) -> list[str]:
    """A small YAML writer for dicts, lists and scalars (JSON scalars are valid YAML)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines += _yaml(item, indent + 2)
            else:
                lines.append(f"{pad}{key}: {json.dumps(item, ensure_ascii=False)}")
    else:
        for item in value:
            if isinstance(item, dict) and item:
                first, *rest = _yaml(item, indent + 2)
                lines.append(f"{pad}- {first.lstrip()}")
                lines += rest
            else:
                lines.append(f"{pad}- {json.dumps(item, ensure_ascii=False)}")
    return lines


def card_text(name: str, split: SplitReport, run: dict[str, Any] | None) -> str:
    """The README.md of a split folder."""
    sides = [s for s in ("train", "eval", "test") if s in split.sides]
    total = sum(split.sides[s]["lines"] for s in sides)
    qaug: dict[str, Any] = {"split": {"seed": split.seed, **{f"{s}_fraction": f for s, f in split.fractions.items()},
                                      "near_dup_threshold": split.near_dup_threshold,
                                      "keep_eval_variants": split.keep_eval_variants, "groups": split.groups,
                                      "merged_near_duplicate_pairs": split.merged_pairs}}
    rows = method_rows(run) if run else []
    if run:
        cfg = run.get("config", {})
        model, sha = _model(run)
        full = model_sha256(run, model, sha) if model and sha else None
        qaug.update({"seed": cfg.get("seed"), "max_aug_ratio": cfg.get("max_aug_ratio"), "model": model,
                     "model_sha256": full, "model_sha256_prefix": sha, "verify": cfg.get("verify"),
                     "methods": {r["method"]: {"params": r["params"], "written": r["written"],
                                               "rejected": r["rejected"], "reject_rate": r["reject_rate"],
                                               "capped": r["capped"]} for r in rows},
                     "originals_written": run.get("originals_written"), "variants_written": run.get("variants_written"),
                     "input_rejects": run.get("input_rejects")})
    header = {"pretty_name": name, "tags": ["qaug", "synthetic", "data-augmentation"],
              "task_categories": ["text-generation"], "size_categories": [size_category(total)],
              "configs": [{"config_name": "default",
                           "data_files": [{"split": HF_SPLIT[s], "path": f"{s}.jsonl"} for s in sides]}],
              "qaug": qaug}
    out = ["---", *_yaml(header), "---", "", f"# {name}", "",
           "Made with qaug (offline data augmentation for fine-tuning datasets) and split with `qaug split`.", "",
           "## Splits", "", "| split | file | groups | originals | variants | lines |", "|---|---|---|---|---|---|"]
    for s in sides:
        st = split.sides[s]
        out.append(f"| {HF_SPLIT[s]} | {s}.jsonl | {st['groups']} | {st['originals']} | {st['variants']} "
                   f"| {st['lines']} |")
    held = sum(split.held_out_variants.values())
    out += ["", "The split is by group, never by line: an original and all its variants (`_qaug.parent`), lines "
            "sharing a record `id`, and originals whose prompts are near-duplicates "
            f"(character 3-gram similarity >= {split.near_dup_threshold}) are on one side. "
            f"{split.merged_pairs} near-duplicate pairs were merged. A group's side is a hash of its key and "
            f"seed {split.seed}."]
    if held:
        out += ["", f"{held} variants of validation/test originals are kept out of every split "
                "(`eval.variants.jsonl`, `test.variants.jsonl`), so no paraphrase of an eval question is trained on."]
    if run:
        model, sha = _model(run)
        sha = qaug["model_sha256"] or (f"{sha}…" if sha else None)
        judge = f"judge {'on' if qaug['verify'] else 'off'}; " if model else ""  # no model, no judge
        used = f"`{model}` (sha256 `{sha}`)" if model else "none (pure-Python methods only)"
        out += ["", "## How it was made", "",
                f"Run seed {qaug['seed']}, cap `--max-aug-ratio {qaug['max_aug_ratio']}`, {judge}model: {used}.", "",
                "| method | parameters | written | rejected | reject rate | over cap |", "|---|---|---|---|---|---|"]
        for r in rows:
            rate = f"{r['reject_rate']:.1%}" if r["reject_rate"] is not None else "-"
            out.append(f"| {r['method']} | `{json.dumps(r['params'], ensure_ascii=False)}` | {r['written']} | "
                       f"{r['rejected']} | {rate} | {r['capped']} |")
    else:
        out += ["", "No run report (`out.report.json`) was found beside the input, "
                    "so methods and model are not listed."]
    out += ["", "## Fields", "", "Each line is a record in its own format plus `_qaug` (id, parent, method, version, "
            "seed, index, params, source, model, info, score, review): which original a line came from and how.", ""]
    return "\n".join(out)


def write_card(out_dir: Path, split_input: Path, split: SplitReport) -> Path:
    """README.md in out_dir from the split and, when found, the run's report."""
    path = out_dir / "README.md"
    name = out_dir.resolve().name or "dataset"
    path.write_text(card_text(name, split, find_run_report(split_input)), encoding="utf-8")
    return path
