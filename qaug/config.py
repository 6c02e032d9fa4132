"""The frozen run configuration, validated at the boundary so the pipeline can trust it."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from qaug.errors import UsageError
from qaug.llm.engine import Sampling
from qaug.llm.options import EngineSettings
from qaug.readers import DEFAULT_MAX_LINE_BYTES
from qaug.writers import companion_paths, journal_path, same_file
from qaug.outformat import check_output_suffix
from qaug.records import FORMATS


@dataclass(frozen=True)
class RunConfig:
    """Everything a run depends on; two equal configs over equal inputs give equal outputs."""

    inputs: tuple[Path, ...]
    output: Path
    methods: tuple[str, ...]
    method_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    seed: int = 0
    fmt: str | None = None
    fields: tuple[str, ...] | None = None
    target: str = "texts"
    keep_originals: bool = True
    strict: bool = False
    variants: int = 1
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    #: records per batch; None: 32 when a method needs the model (a checkpoint per batch of model work), else 256
    window: int | None = None
    #: largest share of augmented records in the output (originals counted even with --no-originals); 1 = no cap
    max_aug_ratio: float = 0.3
    #: the model judge on model methods' variants (qaug.quality.judge); --no-verify turns it off
    verify: bool = True
    #: seconds between checkpoints of a pure-Python run (runs with model methods checkpoint every batch)
    checkpoint_every: float = 1.0
    recipe: str | None = None
    #: --limit: only the first N records of the inputs; --sample: a seeded uniform sample of N (qaug.sample)
    limit: int | None = None
    sample: int | None = None
    #: `-o -`: the output lines go to stdout; `output` then only names the companions (rejects, report, journal)
    stdout: bool = False
    #: the model and how to load it (the caller opens the engine from it: qaug.llm.factory.engine_spec), and how
    #: model answers are sampled; None when the run has no model methods (a library caller may leave sampling
    #: None: Sampling's defaults). Both are reported as given, under "model" and "sampling".
    engine: EngineSettings | None = None
    sampling: Sampling | None = None

    def __post_init__(self) -> None:
        """Paths given as strings (a library caller's natural first try) are taken as the paths they name."""
        if any(not isinstance(p, Path) for p in self.inputs):
            object.__setattr__(self, "inputs", tuple(Path(p) for p in self.inputs))
        if not isinstance(self.output, Path):
            object.__setattr__(self, "output", Path(self.output))

    @property
    def resumable(self) -> bool:
        """Whether --resume can continue this run: not one into stdout, nor one from a stream (read once)."""
        from qaug.spool import is_spooled

        return not self.stdout and not any(is_spooled(p) for p in self.inputs)

    def how_to_continue(self) -> str:
        """The end of a stop message: how to go on from what was written."""
        if not self.resumable:
            what = "into stdout (-o -)" if self.stdout else "from stdin or a pipe"
            return f"a run {what} cannot be continued: run it again, with --overwrite"
        if self.output.suffix.lower() in (".json", ".parquet"):
            return (f"continue with --resume ({self.output.name} holds JSON Lines until the run finishes, "
                    "then it is converted)")
        return "continue with --resume"

    def rerun_hint(self, after: str = "") -> str:
        """The end of a failed write's message: --resume (then `after`, what it would do) where it can work."""
        if self.resumable:
            return f"rerun with --resume{after}"
        return "run it again (a run from stdin or into stdout cannot resume)"

    @property
    def rejects_path(self) -> Path:
        return companion_paths(self.output)[0]

    @property
    def report_path(self) -> Path:
        return companion_paths(self.output)[1]

    def validate(self) -> None:
        """Refuse what would fail later or destroy data, before anything is written."""
        if not self.inputs:
            raise UsageError("no input files given")
        for path in self.inputs:
            if not path.exists():
                raise UsageError(f"input not found: {path}")
            if path.is_dir():
                raise UsageError(f"input is a directory, not a file: {path}")
        real = [os.path.realpath(p) for p in self.inputs]
        for i, resolved in enumerate(real):
            if resolved in real[:i]:
                raise UsageError(f"input {self.inputs[i]} is given twice")
        if self.output.exists() and self.output.is_dir():
            raise UsageError(f"output is a directory: {self.output}")
        written = {"output": self.output, "rejects file": self.rejects_path, "report": self.report_path,
                   "run journal": journal_path(self.output)}
        for path in self.inputs:
            for what, out in written.items():
                if same_file(path, out):
                    beside = "" if what == "output" else f" (written beside -o {self.output.name})"
                    raise UsageError(f"the {what} {out}{beside} is also an input; choose another -o")
        check_output_suffix(self.output)
        if self.output.name.endswith(".gz"):
            raise UsageError("output is written as plain JSONL; drop the .gz from -o")
        parent = next((p for p in self.output.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise UsageError(f"cannot make the output folder {self.output.parent}: {parent} is a file")
        if self.fmt is not None and self.fmt not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {self.fmt!r}")
        if self.target not in ("texts", "record"):
            raise UsageError(f"--target must be 'texts' or 'record', not {self.target!r}")
        if not 0.0 <= self.max_aug_ratio <= 1.0:
            raise UsageError("--max-aug-ratio must be between 0 and 1")
        if self.variants < 1:
            raise UsageError("--variants must be at least 1")
        if self.limit is not None and self.sample is not None:
            raise UsageError("--limit and --sample are alternatives: give one")
        for flag, n in (("--limit", self.limit), ("--sample", self.sample)):
            if n is not None and n < 1:
                raise UsageError(f"{flag} must be at least 1, not {n}")
        if self.max_line_bytes < 1024:
            raise UsageError("--max-line-mb must be at least 0.001 (1 KiB)")
        unknown = sorted(set(self.method_params) - set(self.methods))
        if unknown:
            raise UsageError(f"parameters given for method(s) not in --methods: {', '.join(unknown)}")
        self._validate_sampling()

    def _validate_sampling(self) -> None:
        """Flags are range-checked by the CLI; recipes are not, so every sampling value is checked here."""
        bounds = {"temperature": (0.0, 100.0), "top_p": (0.0, 1.0), "min_p": (0.0, 1.0), "top_k": (0, 1 << 30),
                  "repeat_penalty": (1e-6, 100.0), "max_tokens": (1, 1 << 20)}
        given = asdict(self.sampling) if self.sampling is not None else {}
        for key, (lo, hi) in bounds.items():
            value = given.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                flag = "--" + key.replace("_", "-")
                raise UsageError(f"{flag} (sampling.{key}) must be a number from {lo:g} to {hi:g}, not {value!r}")
            if key in ("top_k", "max_tokens") and not isinstance(value, int):
                raise UsageError(f"--{key.replace('_', '-')} (sampling.{key}) must be a whole number, not {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the report, so a run can be reproduced from it."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("engine", "sampling")}
        out["inputs"] = [str(p) for p in self.inputs]
        out["output"] = str(self.output)
        out["method_params"] = {k: dict(v) for k, v in self.method_params.items()}
        out["methods"] = list(self.methods)
        out["fields"] = list(self.fields) if self.fields is not None else None
        out["model"] = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self.engine).items()} \
            if self.engine is not None else {}
        out["sampling"] = asdict(self.sampling) if self.sampling is not None else {}
        return out


def parse_param_args(items: Sequence[str]) -> dict[str, dict[str, str]]:
    """`method.name=value` strings into {method: {name: value}}; values are coerced by the method."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        method, dot, name = key.strip().partition(".")
        if not sep or not dot or not method or not name:
            raise UsageError(f"--param expects METHOD.NAME=VALUE, got {item!r}")
        out.setdefault(method, {})[name] = value
    return out
