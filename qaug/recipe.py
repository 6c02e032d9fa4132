"""Recipes: methods, parameters, gates, model and sampling in one reviewable TOML file.

A recipe is merged under the command line: a flag given on the command line wins, then the
recipe, then qaug's default. Unknown keys are refused with the key's name, so a typo never
silently leaves a setting at its default.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from qaug.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: the methods a task type calls for
TASK_METHODS: dict[str, tuple[str, ...]] = {
    "classification": ("synonym", "backtranslate", "template"),
    "sft": ("rewrite", "roleplay", "swap"),
    "structured": ("structural",),
    "reasoning": ("steps", "rename_identifiers", "bugfix"),
    "multilingual": ("backtranslate", "translate"),
}
#: model methods not shown to meet MIN_PRECISION on Qwen2.5-Coder-1.5B, with (kept variants a person signed off,
#: kept variants labelled) from BENCHMARKS.md: a lower share, or fewer than MIN_LABELLED labelled. They are left out
#: of the --task defaults until they meet the bar; a run that names one still gets it, with a note. rewrite and
#: backtranslate: the two unseen end-to-end runs of the support check (e2e4, e2e5); the others: "Per method"
#: (earlier gates)
BELOW_BAR: dict[str, tuple[int, int]] = {
    "rewrite": (11, 27), "backtranslate": (7, 8), "roleplay": (5, 11), "synonym": (2, 14), "template": (0, 4),
}
MIN_PRECISION = 0.8
MIN_LABELLED = 20
TASKS: dict[str, tuple[str, ...]] = {task: tuple(m for m in methods if m not in BELOW_BAR)
                                     for task, methods in TASK_METHODS.items()}


def below_bar_note(names: list[str]) -> str | None:
    """A note for methods selected by name that are below the precision bar, or None."""
    low = [f"{n} ({BELOW_BAR[n][0]} of {BELOW_BAR[n][1]} kept variants signed off)" for n in names if n in BELOW_BAR]
    if not low:
        return None
    return (f"note: {', '.join(low)}: not yet shown to keep {MIN_PRECISION:.0%} good variants on Qwen2.5-Coder-1.5B "
            f"(a lower share, or fewer than {MIN_LABELLED} labelled; BENCHMARKS.md); review them before training, "
            f"or use a larger model")
TOP_KEYS = {"methods", "task", "seed", "format", "fields", "target", "no_originals", "strict", "variants",
            "max_aug_ratio", "verify", "max_line_mb", "params", "gates", "model", "sampling"}
MODEL_KEYS = {"gguf", "models_dir", "ctx", "threads", "n_gpu_layers", "parallel", "chat_template", "deterministic"}
SAMPLING_KEYS = {"temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens"}
GATE_KEYS = {"min_len_ratio", "max_len_ratio", "max_similarity", "min_overlap", "min_word_overlap", "min_chrf",
             "max_chrf"}


def load_recipe(path: Path) -> dict[str, Any]:
    """Parse and check a recipe file; UsageError (one line) for anything wrong in it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"recipe not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read recipe {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"recipe {path} is not valid TOML: {exc}") from None
    _check_keys(data, TOP_KEYS, f"recipe {path.name}")
    for section, keys in (("model", MODEL_KEYS), ("sampling", SAMPLING_KEYS), ("gates", GATE_KEYS)):
        if section in data:
            if not isinstance(data[section], dict):
                raise UsageError(f"recipe {path.name}: [{section}] must be a table")
            _check_keys(data[section], keys, f"recipe {path.name} [{section}]")
    params = data.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise UsageError(f"recipe {path.name}: [params.METHOD] tables expected")
    if "task" in data and data["task"] not in TASKS:
        raise UsageError(f"recipe {path.name}: task must be one of {', '.join(TASKS)}")
    base = path.parent
    model = data.get("model", {})
    for key in ("gguf", "models_dir"):
        if key in model:  # relative to the recipe, so a recipe travels with its folder
            model[key] = str((base / model[key]).resolve()) if not Path(model[key]).is_absolute() else model[key]
    return data


def _check_keys(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        from qaug.augment.base import RENAMED

        hints = "".join(f"; {RENAMED[u]}" for u in unknown if u in RENAMED)
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))}){hints}")


def task_note(task: str | None) -> str | None:
    """A note for a --task whose recommended methods include some below the precision bar, which it leaves out."""
    left = [m for m in TASK_METHODS.get(task or "", ()) if m in BELOW_BAR]
    if not left or not TASKS.get(task or ""):  # a task with none left is refused, with its own message
        return None
    return (f"note: --task {task} runs {', '.join(TASKS[task or ''])}; it leaves out {', '.join(left)}, not yet shown "
            f"to keep {MIN_PRECISION:.0%} good variants on Qwen2.5-Coder-1.5B (BENCHMARKS.md): name them with -m to "
            "use them anyway")


def methods_for(methods: str | list[str] | None, task: str | None) -> list[str]:
    """Explicit methods win over a task; neither means the default, rewrite."""
    if methods:
        return [m.strip() for m in (methods.split(",") if isinstance(methods, str) else methods) if m.strip()]
    if task:
        if task not in TASKS:
            raise UsageError(f"--task must be one of {', '.join(TASKS)}, not {task!r}")
        if not TASKS[task]:
            raise UsageError(f"--task {task}: none of its methods ({', '.join(TASK_METHODS[task])}) meets the "
                             f"{MIN_PRECISION:.0%} precision bar on Qwen2.5-Coder-1.5B yet (BENCHMARKS.md); name them "
                             f"with -m to use them anyway, and review what they keep")
        return list(TASKS[task])
    return ["rewrite"]
