"""`qaug doctor`: what build and model a run would use, and the deployment check from the brief.

The check asks, under the grammar, for Beijing, Shanghai and Shenzhen with city, population
and gdp; it passes only with all three cities and plausible numbers (population in people or millions, GDP in
billions or trillions of yuan, or billions of dollars). Each item is a line the
CLI prints; the first failing item names the exit.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaug import __version__
from qaug.llm.engine import Job, Sampling

CITY_SCHEMA = {
    "type": "object",
    "properties": {
        "cities": {
            "type": "array", "minItems": 3, "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {"city": {"type": "string", "maxLength": 40},
                               "population": {"type": "number"}, "gdp": {"type": "number"}},
                "required": ["city", "population", "gdp"], "additionalProperties": False,
            },
        }
    },
    "required": ["cities"], "additionalProperties": False,
}
CITY_PROMPT = ("Give the population and GDP (in billion yuan) of Beijing, Shanghai and Shenzhen as JSON: "
               '{"cities": [{"city": ..., "population": ..., "gdp": ...}, ...]}.')
_NAMES = {"beijing": "beijing", "北京": "beijing", "shanghai": "shanghai", "上海": "shanghai",
          "shenzhen": "shenzhen", "深圳": "shenzhen"}


@dataclass
class Item:
    """One line of the report: a name, what was found, and whether it is fine."""

    name: str
    value: str
    ok: bool = True


def build_items() -> list[Item]:
    """qaug, llama-cpp-python, the build's GPU support and the GPU seen."""
    items = [Item("qaug", __version__), Item("python", platform.python_version())]
    try:
        import llama_cpp
    except ImportError:
        return items + [Item("llama-cpp-python", "not installed (pip install llama-cpp-python)", ok=False)]
    offload = bool(llama_cpp.llama_supports_gpu_offload())
    system = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    backends = [b for b in ("CUDA", "Metal", "Vulkan", "HIP", "SYCL", "BLAS") if b in system]
    build = "GPU offload (" + ", ".join(b for b in backends if b != "BLAS") + ")" if offload else "CPU only"
    items += [Item("llama-cpp-python", llama_cpp.__version__), Item("build", build)]
    items.append(Item("sampler", sampler_description()))
    items.append(Item("gpu", gpu_name() or "none seen"))
    items.append(Item("ray", ray_description()))
    if gpu_name() and not offload:
        items.append(Item("hint", 'a GPU is present but this build is CPU-only: '
                                  'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall '
                                  '--no-cache-dir llama-cpp-python'))
    return items


def ray_description() -> str:
    """Whether --ray / --gpus can run here: an optional extra, never a failure when absent."""
    try:
        from importlib.metadata import version

        return f"{version('ray')} (--ray, --gpus)"
    except Exception:  # noqa: BLE001 - PackageNotFoundError, or a broken install: either way not usable
        return "not installed (optional: pip install 'qaug[ray]' for --ray and --gpus)"


def sampler_description() -> str:
    """Which token sampler runs: the compiled one (csample.c), or numpy when it was not built."""
    from qaug.llm.csample import library_path, unavailable_reason

    path = library_path()
    if path:
        return f"compiled ({Path(path).name})"
    return f"numpy (compiled sampler: {unavailable_reason()})"


def gpu_indices() -> list[str]:
    """The indices nvidia-smi lists (none without it): what --gpus may name."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def gpu_name() -> str | None:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def model_items(engine: Any, origin: str) -> list[Item]:
    info = engine.info
    return [
        Item("model", f"{engine.model_path} ({origin})"),
        Item("architecture", info.architecture),
        Item("parameters", f"{info.n_params / 1e9:.2f} B" if info.n_params >= 1e8 else f"{info.n_params / 1e6:.1f} M"),
        Item("quantization", info.quantization),
        Item("context", f"{engine.n_ctx} used of {info.context_length or '?'} trained"),
        Item("chat template", f"{engine.template.name} from {engine.template.source}"),
        Item("threads / gpu layers / parallel", f"{engine.n_threads} / {engine.n_gpu_layers} / {engine.parallel}"),
        Item("load time", f"{engine.load_seconds:.2f} s"),
    ]


def city_check(engine: Any, seed: int = 0) -> list[Item]:
    """The brief's deployment check, with timing."""
    job = Job(key="doctor", messages=({"role": "user", "content": CITY_PROMPT},), schema=CITY_SCHEMA, seed=seed,
              sampling=Sampling(max_tokens=256))
    t0 = time.perf_counter()
    result = next(iter(engine.generate([job])))
    seconds = time.perf_counter() - t0
    rate = result.completion_tokens / seconds if seconds > 0 else 0.0
    items = [Item("generation", f"{result.completion_tokens} tokens in {seconds:.2f} s ({rate:.1f} tokens/s)")]
    if not result.ok:
        return items + [Item("deployment check", f"failed: {result.error}", ok=False)]
    problems = judge_cities(result.value)
    if problems:
        return items + [Item("deployment check", f"valid JSON, but {problems}: {result.text[:200]}", ok=False)]
    return items + [Item("deployment check", f"passed: {result.text[:200]}")]


def only_content_failed(failed: list[Item]) -> bool:
    """True when the one failure is the check's content (valid JSON, wrong cities): the engine itself works."""
    return len(failed) == 1 and failed[0].name == "deployment check" and failed[0].value.startswith("valid JSON")


def judge_cities(value: Any) -> str | None:
    """None when the answer names the three cities with positive numbers, else what is wrong."""
    seen = set()
    for entry in value.get("cities", []):
        name = _NAMES.get(str(entry.get("city", "")).strip().lower().replace(" city", ""))
        if name is None:
            return f"unexpected city {entry.get('city')!r}"
        if not (entry.get("population", 0) > 0 and entry.get("gdp", 0) > 0):
            return f"non-positive numbers for {entry.get('city')!r}"
        wrong = implausible(entry.get("population"), entry.get("gdp"))
        if wrong:
            return f"{wrong} for {entry.get('city')!r}"
        seen.add(name)
    missing = {"beijing", "shanghai", "shenzhen"} - seen
    return f"missing {', '.join(sorted(missing))}" if missing else None



#: the three cities have 13 to 26 million people and a GDP of 3 to 5 trillion yuan (2020-2024)
_POPULATION = ((5e6, 5e7, "people"), (5.0, 50.0, "millions"))
_GDP = ((1000.0, 10000.0, "billion yuan"), (1.0, 10.0, "trillion yuan"), (10000.0, 100000.0, "100 million yuan"),
        (150.0, 1500.0, "billion dollars"))


def implausible(population: Any, gdp: Any) -> str | None:
    """What is wrong with the figures, or None when each reads as a real one in some unit a model might use:
    a population in people or millions, a GDP in billions or trillions of yuan (or 亿元), or billions of
    dollars. A year (2021) as the population passes none of them."""
    def fits(value: Any, ranges: tuple[tuple[float, float, str], ...]) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and any(lo <= value <= hi
                                                                                      for lo, hi, _ in ranges)

    if not fits(population, _POPULATION):
        return f"implausible population {population!r} (expected people or millions: 13-26 million)"
    if not fits(gdp, _GDP):
        return (f"implausible gdp {gdp!r} (expected 3-5 trillion yuan, in billions or trillions of yuan "
                "or billions of $)")
    return None
