"""`--ray`: windows computed on Ray actors, the output byte for byte what one process writes.

Each test runs `python -m qaug run` as a user would, starting its own local Ray (a few seconds);
the model tests use the tiny random Qwen2 with --deterministic, so answers depend on the job alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, figures_dataset, read_jsonl, run_qaug, write_jsonl

pytest.importorskip("ray", reason="the ray extra is not installed")

PURE = ["-m", "perturb,shuffle_keys,null_inject", "--window", "16", "--seed", "5", "-q", "--max-aug-ratio", "0.6"]


def _dataset(path: Path, n: int = 400) -> Path:
    return figures_dataset(path, n, bad_every=53, bad_at=7)


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return run_qaug(*args, env=env, timeout=timeout)


def _same_files(a: Path, b: Path) -> None:
    assert a.read_bytes() == b.read_bytes()
    rej = lambda p: p.with_name(p.name.replace(".jsonl", ".rejects.jsonl"))  # noqa: E731
    assert rej(a).read_bytes() == rej(b).read_bytes()


def test_pure_methods_on_two_actors_write_the_single_process_bytes(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl")
    single, ray2 = tmp_path / "single.jsonl", tmp_path / "ray2.jsonl"
    assert _run(str(src), "-o", str(single), *PURE).returncode == 0
    done = _run(str(src), "-o", str(ray2), *PURE, "--ray", "--actors", "2")
    assert done.returncode == 0, done.stderr
    _same_files(single, ray2)
    report = json.loads((tmp_path / "ray2.report.json").read_text())
    scale = report["scale"]
    assert scale["backend"] == "ray" and scale["actors"] == 2 and scale["unit"] == "records"
    per = scale["per_actor"]
    assert sum(p["records"] for p in per) == report["records"] == 400 - 8
    assert all(p["windows"] > 0 for p in per)  # both actors did work
    assert 0 < scale["efficiency"] <= 1.5


@pytest.mark.parametrize("ratio", ["1", "0.3"])
def test_model_method_with_deterministic_matches_one_process(tmp_path: Path, tiny_gguf: Path, ratio: str) -> None:
    """Without a cap windows go to actors whole; under one each window is shared out among them, so the
    cap's plan (which units to compute) is the one a run without Ray makes."""
    pytest.importorskip("llama_cpp")
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": f"Describe item {i} briefly.", "input": "",
                                               "output": f"Item {i} is small."} for i in range(12)])
    common = ["-m", "rewrite", "--gguf", str(tiny_gguf), "--deterministic", "--no-verify", "--max-tokens", "24",
              "--max-aug-ratio", ratio, "--window", "4", "--threads", "1", "--ctx", "2048", "-q", "--no-cache"]
    single, ray2 = tmp_path / "single.jsonl", tmp_path / "ray2.jsonl"
    first = _run(str(src), "-o", str(single), *common)
    assert first.returncode == 0, first.stderr
    done = _run(str(src), "-o", str(ray2), *common, "--ray", "--actors", "2")
    assert done.returncode == 0, done.stderr
    _same_files(single, ray2)
    one = json.loads((tmp_path / "single.report.json").read_text())["model"]
    two = json.loads((tmp_path / "ray2.report.json").read_text())
    # the actors' engine counters reach the run's report as if computed here
    assert two["model"]["jobs"] == one["jobs"] > 0
    plan_one = json.loads((tmp_path / "single.report.json").read_text())["methods"]["rewrite"]
    assert two["methods"]["rewrite"]["not_planned"] == plan_one["not_planned"]
    assert (plan_one["not_planned"] > 0) == (ratio != "1")
    assert two["model"]["completion_tokens"] == one["completion_tokens"] > 0
    assert sum(p["completion_tokens"] for p in two["scale"]["per_actor"]) == one["completion_tokens"]
    assert all(p["windows"] > 0 for p in two["scale"]["per_actor"])  # a window shared out reaches both actors


def test_actors_share_the_cache_and_a_rerun_computes_nothing(tmp_path: Path, tiny_gguf: Path) -> None:
    """Two actors write one SQLite cache (WAL, several writers); a later run finds every answer there."""
    pytest.importorskip("llama_cpp")
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": f"Describe item {i} briefly.", "input": "",
                                               "output": f"Item {i} is small."} for i in range(16)])
    common = ["-m", "rewrite", "--gguf", str(tiny_gguf), "--no-verify", "--max-tokens", "16", "--max-aug-ratio", "1",
              "--window", "2", "--threads", "1", "--ctx", "2048", "-q", "--deterministic"]
    env = {"QAUG_CACHE_DIR": str(tmp_path / "cache")}
    first = _run(str(src), "-o", str(tmp_path / "ray.jsonl"), *common, "--ray", "--actors", "2", env=env)
    assert first.returncode == 0, first.stderr
    report = json.loads((tmp_path / "ray.report.json").read_text())
    assert all(p["windows"] > 0 for p in report["scale"]["per_actor"])  # both actors wrote answers to the cache
    assert report["model"]["computed"] >= 16
    again = _run(str(src), "-o", str(tmp_path / "again.jsonl"), *common, env=env)
    assert again.returncode == 0, again.stderr
    model = json.loads((tmp_path / "again.report.json").read_text())["model"]
    assert model["computed"] == 0 and model["cached"] == report["model"]["computed"]
    _same_files(tmp_path / "ray.jsonl", tmp_path / "again.jsonl")


def test_an_actor_killed_mid_window_loses_nothing(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl")
    single, ray2 = tmp_path / "single.jsonl", tmp_path / "ray2.jsonl"
    assert _run(str(src), "-o", str(single), *PURE).returncode == 0
    marker = tmp_path / "fault-fired"
    done = _run(str(src), "-o", str(ray2), *PURE, "--ray", "--actors", "2",
                env={"QAUG_FAULT": "actor_window:3", "QAUG_FAULT_ONCE": str(marker)})
    assert done.returncode == 0, done.stderr
    assert marker.exists()  # an actor really died on its third window
    _same_files(single, ray2)
    ids = [r["_qaug"]["id"] for r in read_jsonl(ray2)]
    assert len(ids) == len(set(ids))  # nothing written twice
    scale = json.loads((tmp_path / "ray2.report.json").read_text())["scale"]
    assert sum(p["restarts"] for p in scale["per_actor"]) == 1


def _kill_tagged(tag: str) -> None:
    """Ray's helper processes outlive a driver killed with SIGKILL: end those this test started."""
    needle = f"QAUG_TEST_TAG={tag}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def test_driver_killed_then_resumed_with_another_actor_count(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl")
    single, out = tmp_path / "single.jsonl", tmp_path / "out.jsonl"
    assert _run(str(src), "-o", str(single), *PURE).returncode == 0
    tag = f"{os.getpid()}-{time.time_ns()}"
    try:
        killed = _run(str(src), "-o", str(out), *PURE, "--checkpoint-every", "0", "--ray", "--actors", "2",
                      env={"QAUG_FAULT": "checkpoint:6", "QAUG_TEST_TAG": tag})
    finally:
        _kill_tagged(tag)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert 0 < out.stat().st_size < single.stat().st_size
    resumed = _run(str(src), "-o", str(out), *PURE, "--checkpoint-every", "0", "--ray", "--actors", "1", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    _same_files(single, out)
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["status"] == "ok" and report["scale"]["actors"] == 1


def test_joining_a_running_cluster_by_its_address(tmp_path: Path) -> None:
    """`ray start --head`, then `--ray HOST:PORT`: the run joins it and leaves the cluster running."""
    import socket

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    port = free_port()
    tag = f"{os.getpid()}-{time.time_ns()}"
    # this test's cluster only: no token (a real one has its own), and ended by the tag, never `ray stop`
    auth = {"QAUG_TEST_TAG": tag, "RAY_AUTH_MODE": "disabled"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("QAUG_FAULT")} | auth
    ray_cli = Path(sys.executable).parent / "ray"
    current = Path(os.environ.get("RAY_TMPDIR", "/tmp")) / "ray" / "ray_current_cluster"
    had_current = current.exists()
    src = _dataset(tmp_path / "in.jsonl")
    single, joined = tmp_path / "single.jsonl", tmp_path / "joined.jsonl"
    assert _run(str(src), "-o", str(single), *PURE).returncode == 0
    try:
        dead = _run(str(src), "-o", str(tmp_path / "dead.jsonl"), *PURE, "--ray", f"127.0.0.1:{port}", env=auth)
        assert dead.returncode == 2 and f"cannot join the Ray cluster at 127.0.0.1:{port}: nothing answers" \
            in dead.stderr, dead.stderr  # at once, not after Ray's minutes of retries
        head = subprocess.run([str(ray_cli), "start", "--head", "--port", str(port), "--num-cpus", "2",
                               "--include-dashboard", "false", "--disable-usage-stats"],
                              capture_output=True, text=True, timeout=120, env=env)
        assert head.returncode == 0, head.stderr
        done = _run(str(src), "-o", str(joined), *PURE, "--ray", f"127.0.0.1:{port}", "--actors", "2", env=auth)
        assert done.returncode == 0, done.stderr
    finally:
        _kill_tagged(tag)
        if not had_current:  # what `ray stop` would remove: a later ray.init() must not look for this cluster
            current.unlink(missing_ok=True)
    _same_files(single, joined)
    assert json.loads((tmp_path / "joined.report.json").read_text())["scale"]["actors"] == 2


def test_ctrl_c_checkpoints_and_resume_without_ray_finishes_it(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl", n=6000)
    args = ["-m", "perturb,shuffle_keys,null_inject,flatten", "--window", "8", "--seed", "5", "-q",
            "--max-aug-ratio", "0.6"]
    single, out = tmp_path / "single.jsonl", tmp_path / "out.jsonl"
    assert _run(str(src), "-o", str(single), *args).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("QAUG_FAULT")}
    proc = subprocess.Popen([sys.executable, "-m", "qaug", "run", str(src), "-o", str(out), *args, "--ray",
                             "--actors", "2"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 0):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert out.stat().st_size < single.stat().st_size
    resumed = _run(str(src), "-o", str(out), *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    _same_files(single, out)


def test_ray_flag_alone_is_a_local_ray_and_an_address_is_kept() -> None:
    from qaug.cli_scale import ray_flag_alone

    assert ray_flag_alone(["run", "in.jsonl", "--ray", "-o", "x"]) == ["run", "in.jsonl", "--ray", "local", "-o", "x"]
    assert ray_flag_alone(["run", "--ray", "in.jsonl"]) == ["run", "--ray", "local", "in.jsonl"]
    assert ray_flag_alone(["run", "x", "--ray"]) == ["run", "x", "--ray", "local"]
    assert ray_flag_alone(["run", "x", "--ray", "auto"]) == ["run", "x", "--ray", "auto"]
    assert ray_flag_alone(["run", "x", "--ray", "ray://head:10001"]) == ["run", "x", "--ray", "ray://head:10001"]
    assert ray_flag_alone(["run", "x", "--ray", "10.0.0.2:6379"]) == ["run", "x", "--ray", "10.0.0.2:6379"]
