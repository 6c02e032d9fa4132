"""Runs that survive: SIGKILL at awkward points, then --resume; a lock; refusals; the cache; no network."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import ROOT, figures_dataset, read_jsonl, run_cli, run_qaug, write_jsonl


def _dataset(path: Path, n: int = 300) -> Path:
    return figures_dataset(path, n, bad_every=37, bad_at=5)


PURE = ["-m", "perturb,shuffle_keys", "--window", "16", "--seed", "3", "-q", "--checkpoint-every", "0"]


def _run(args: list[str], fault: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_qaug(*args, env={"QAUG_FAULT": fault} if fault else None, timeout=timeout)


@pytest.mark.parametrize("fault", ["read:40", "read:250", "write:7", "write:300", "fsync:3", "checkpoint:5",
                                   "checkpoint:17"])
def test_sigkill_then_resume_gives_the_uninterrupted_bytes(tmp_path: Path, fault: str) -> None:
    src = _dataset(tmp_path / "in.jsonl")
    clean = tmp_path / "clean.jsonl"
    assert _run([str(src), "-o", str(clean), *PURE]).returncode == 0
    out = tmp_path / "out.jsonl"
    killed = _run([str(src), "-o", str(out), *PURE], fault=fault)
    assert killed.returncode == -signal.SIGKILL, (fault, killed.stderr)
    resumed = _run([str(src), "-o", str(out), *PURE, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes() == clean.read_bytes()
    assert (tmp_path / "out.rejects.jsonl").read_bytes() == (tmp_path / "clean.rejects.jsonl").read_bytes()
    ids = Counter(r["_qaug"]["id"] for r in read_jsonl(out))
    assert max(ids.values()) == 1
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["input_lines"] == 300 == report["originals_written"] + report["input_rejects"]
    assert report["status"] == "ok"
    if fault != "write:7":  # every other kill comes after at least one checkpoint
        assert report["units"]["records_resumed"] > 0
    # the HTML report's figures (rebuilt from the kept lines on resume) match the uninterrupted run's
    def charts(page: str) -> str:
        return page[page.index('id="lengths"'):page.index('id="speed"')]
    assert charts((tmp_path / "out.report.html").read_text()) == charts((tmp_path / "clean.report.html").read_text())


def test_model_run_killed_mid_model_call_resumes_without_loss_or_duplicates(tmp_path: Path, tiny_gguf: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": f"Summarise report number {i} for the board.",
                                               "output": "ok"} for i in range(24)])
    args = [str(src), "-o", str(tmp_path / "out.jsonl"), "-m", "rewrite,perturb", "--gguf", str(tiny_gguf),
            "--threads", "1", "--max-tokens", "48", "--param", "rewrite.n=2", "--window", "4", "-q",
            "--cache-dir", str(tmp_path / "cache"), "--max-aug-ratio", "1"]
    killed = _run(args, fault="model:20")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = _run(args + ["--resume"])
    assert resumed.returncode == 0, resumed.stderr
    rows = read_jsonl(tmp_path / "out.jsonl")
    ids = Counter(r["_qaug"]["id"] for r in rows)
    assert max(ids.values()) == 1
    originals = {r["_qaug"]["id"] for r in rows if r["_qaug"]["parent"] is None}
    assert originals == {f"in.jsonl:{i}" for i in range(1, 25)}
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["model"]["cached"] > 0  # answers computed before the kill were not paid for twice


def test_existing_output_refused_and_config_change_named(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl", 40)
    out = tmp_path / "out.jsonl"
    assert _run([str(src), "-o", str(out), *PURE]).returncode == 0
    report = (tmp_path / "out.report.json").read_bytes()
    again = _run([str(src), "-o", str(out), *PURE])
    assert again.returncode == 2 and "--resume" in again.stderr and "--overwrite" in again.stderr
    other = _run([str(src), "-o", str(out), "-m", "perturb", "--window", "16", "--seed", "4", "-q", "--resume"])
    assert other.returncode == 2 and "seed" in other.stderr and "methods" in other.stderr
    assert (tmp_path / "out.report.json").read_bytes() == report  # a refused start leaves the run's report alone
    done = _run([str(src), "-o", str(out), *PURE, "--resume"])
    assert done.returncode == 0  # finished: nothing to do
    src.write_text(src.read_text() + '{"text": "one more"}\n')
    changed = _run([str(src), "-o", str(out), *PURE, "--resume"])
    assert changed.returncode == 2 and "changed" in changed.stderr
    assert _run([str(src), "-o", str(out), *PURE, "--overwrite"]).returncode == 0


def test_lock_names_the_running_process_and_stale_locks_are_taken_over(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl", 40)
    out = tmp_path / "out.jsonl"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "out.jsonl.lock").write_text(json.dumps({"pid": sleeper.pid, "host": os.uname().nodename,
                                                             "started": "now"}))
        busy = _run([str(src), "-o", str(out), *PURE])
        assert busy.returncode == 2 and f"pid {sleeper.pid}" in busy.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
    ok = _run([str(src), "-o", str(out), *PURE])  # the holder is gone: stale lock taken over
    assert ok.returncode == 0, ok.stderr and not (tmp_path / "out.jsonl.lock").exists()


def test_sigterm_finishes_the_batch_and_exits_130_then_resumes(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl", 30000)
    out = tmp_path / "out.jsonl"
    args = [sys.executable, "-m", "qaug", "run", str(src), "-o", str(out), *PURE]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (tmp_path / "out.journal.jsonl").exists():
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before SIGTERM arrived")
    assert proc.returncode == 130 and "--resume" in err and "stopped" in err and "Traceback" not in err
    assert _run([str(src), "-o", str(out), *PURE, "--resume"]).returncode == 0
    ids = Counter(r["_qaug"]["id"] for r in read_jsonl(out))
    assert max(ids.values()) == 1 and sum(1 for i in ids if "/" not in i) == 30000 - len(range(5, 30000, 37))


def test_unwritable_output_is_one_line_and_resumable(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl", 200)
    out = tmp_path / "out.jsonl"
    env = dict(os.environ)
    # a file-size limit makes writes fail like a full disk
    code = ("import resource, signal, runpy, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); sys.argv=['qaug']+sys.argv[1:]; "
            "runpy.run_module('qaug', run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code, "run", str(src), "-o", str(out), *PURE], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "cannot write the output" in proc.stderr and "Traceback" not in proc.stderr
    assert _run([str(src), "-o", str(out), *PURE, "--resume"]).returncode == 0
    ids = Counter(r["_qaug"]["id"] for r in read_jsonl(out))
    assert max(ids.values()) == 1


def test_cache_rerun_does_no_model_work(tmp_path: Path, tiny_gguf: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": f"Explain clause {i} of the lease.", "output": "x"}
                                              for i in range(6)])
    common = ["-m", "rewrite", "--max-aug-ratio", "1", "--gguf", str(tiny_gguf), "--threads", "1", "--max-tokens", "48",
              "-q", "--cache-dir", str(tmp_path / "c")]
    assert _run([str(src), "-o", str(tmp_path / "a.jsonl"), *common]).returncode == 0
    assert _run([str(src), "-o", str(tmp_path / "b.jsonl"), *common]).returncode == 0
    rep = json.loads((tmp_path / "b.report.json").read_text())["model"]
    assert rep["computed"] == 0 and rep["cached"] > 0 and rep["completion_tokens"] == 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    # adding a method to a finished job computes only the new method's answers
    more = _run([str(src), "-o", str(tmp_path / "c.jsonl"), *common[:1], "rewrite,backtranslate", *common[2:]])
    assert more.returncode == 0
    rep = json.loads((tmp_path / "c.report.json").read_text())["model"]
    assert rep["cached"] >= 6 and rep["computed"] > 0
    stats = run_cli("cache", "stats", "--cache-dir", str(tmp_path / "c"))
    assert stats.returncode == 0 and "tiny-qwen2.gguf" in stats.stdout
    empty = run_cli("cache", "stats", "--cache-dir", str(tmp_path / "none"))  # looking makes no cache
    assert empty.returncode == 0 and "no cache yet" in empty.stdout and not (tmp_path / "none").exists()


def test_no_network_needed_or_attempted(tmp_path: Path, tiny_gguf: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "Summarise the 2023 audit.", "output": "ok"}])
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(
        "import socket\n"
        "def _refuse(*a, **k):\n"
        "    open(%r, 'a').write('connect\\n')\n"
        "    raise OSError('network disabled by test')\n"
        "socket.socket.connect = _refuse\nsocket.create_connection = _refuse\n" % str(tmp_path / "attempts.log"))
    env = dict(os.environ, PYTHONPATH=str(guard), HF_HUB_OFFLINE="0")
    args = [sys.executable, "-m", "qaug", "run", str(src), "-o", str(tmp_path / "o.jsonl"),
            "-m", "rewrite,backtranslate", "--gguf", str(tiny_gguf), "--threads", "1", "--max-tokens", "32", "-q",
            "--no-cache"]
    unshare = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    cmd = (["unshare", "-n"] if unshare.returncode == 0 else []) + args
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "attempts.log").exists()


def _contend(path: str, start, done, won) -> None:
    from qaug.errors import UsageError
    from qaug.lock import OutputLock

    lock = OutputLock(Path(path))
    start.wait()
    try:
        lock.acquire()
        won.put(os.getpid())
    except UsageError:
        pass
    done.wait()  # hold it until both have tried
    lock.release()


def test_two_processes_racing_for_the_lock_never_both_win(tmp_path: Path) -> None:
    """Issue 11: an empty (not yet written) lock file was taken for stale and deleted; both runs won."""
    import multiprocessing as mp
    import queue

    ctx = mp.get_context("fork")
    for i in range(40):
        out = tmp_path / f"o{i}.jsonl"
        start, done, won = ctx.Barrier(2), ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_contend, args=(str(out), start, done, won)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        winners = []
        try:
            winners.append(won.get(timeout=5))
            winners.append(won.get(timeout=0.1))  # a second winner, if the lock let both in
        except queue.Empty:
            pass
        assert len(winners) == 1, f"round {i}: {len(winners)} winners"
        assert not (tmp_path / f"o{i}.jsonl.lock").exists() and not list(tmp_path.glob("*.tmp"))


def test_an_input_that_is_one_of_the_runs_own_files_is_refused_and_kept(tmp_path: Path) -> None:
    """Issue 11: `qaug run p/o.jsonl.lock -o p/o.jsonl` unlinked the input as a stale lock."""
    out = tmp_path / "o.jsonl"
    record = b'{"instruction": "Keep me.", "output": "ok"}\n'
    for name in ("o.jsonl.lock", "o.report.json.tmp", "o.jsonl.lock.123.tmp"):
        src = tmp_path / name
        src.write_bytes(record)
        proc = _run([str(src), "-o", str(out), *PURE])
        assert proc.returncode == 2, (name, proc.stderr)
        assert "is this run's" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert src.read_bytes() == record and not out.exists()
        src.unlink()


def test_a_file_in_the_locks_place_that_qaug_did_not_write_is_never_removed(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl", 10)
    out = tmp_path / "out.jsonl"
    lock = tmp_path / "out.jsonl.lock"
    # JSON naming a dead pid of this host, but with a field qaug never writes: not a qaug lock
    foreign = json.dumps({"pid": 2 ** 22 + 12345, "host": os.uname().nodename, "note": "my data"})
    lock.write_text(foreign)
    proc = _run([str(src), "-o", str(out), *PURE])
    assert proc.returncode == 2 and "not a lock qaug wrote" in proc.stderr, proc.stderr
    assert lock.read_text() == foreign and not out.exists()


def test_resume_refuses_an_output_shorter_than_its_checkpoint(tmp_path: Path) -> None:
    """Issue 11: --resume over a truncated output padded it with NUL bytes and exited 0."""
    src = _dataset(tmp_path / "in.jsonl", 200)
    out = tmp_path / "out.jsonl"
    killed = _run([str(src), "-o", str(out), *PURE], fault="checkpoint:5")
    assert killed.returncode == -signal.SIGKILL
    journal = [json.loads(line) for line in (tmp_path / "out.journal.jsonl").read_text().splitlines()]
    want = [e for e in journal if e["kind"] == "checkpoint"][-1]["out"]
    os.truncate(out, want // 2)
    proc = _run([str(src), "-o", str(out), *PURE, "--resume"])
    assert proc.returncode == 2, proc.stderr
    assert f"{want // 2:,} bytes" in proc.stderr and f"{want:,} bytes" in proc.stderr and "--overwrite" in proc.stderr
    assert out.stat().st_size == want // 2 and b"\0" not in out.read_bytes()


def test_a_hand_edited_journal_is_one_line_not_an_internal_error(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl", 60)
    out = tmp_path / "out.jsonl"
    assert _run([str(src), "-o", str(out), *PURE], fault="checkpoint:2").returncode == -signal.SIGKILL
    journal = tmp_path / "out.journal.jsonl"
    text = journal.read_text()
    edits = [text.replace('"kind": "checkpoint", "file": 0', '"kind": "checkpoint", "file": "zero"', 1),
             text.replace('"kind": "checkpoint",', '"kind": "checkpoint", "extra": 1,', 1),
             text + "[1, 2]\n",
             text.replace('"sha256": ', '"sha": ', 1),
             "".join(text.rsplit('"stats": {"files"', 1)[0] + '"stats": {"filez"'
                     + text.rsplit('"stats": {"files"', 1)[1])]
    for edited in edits:
        assert edited != text
        journal.write_text(edited)
        proc = _run([str(src), "-o", str(out), *PURE, "--resume"])
        assert proc.returncode == 2, (edits.index(edited), proc.stderr)
        assert "cannot resume" in proc.stderr and "internal error" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    journal.write_text(text)
    assert _run([str(src), "-o", str(out), *PURE, "--resume"]).returncode == 0


_LIMITED = ("import resource, signal, runpy, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, ({n}, {n})); sys.argv=['qaug']+sys.argv[1:]; "
            "runpy.run_module('qaug', run_name='__main__')")


def _run_limited(limit: int, args: list[str]) -> subprocess.CompletedProcess:
    """A run in which no file may grow past `limit` bytes: writes fail as on a full disk."""
    return subprocess.run([sys.executable, "-c", _LIMITED.format(n=limit), "run", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_a_full_disk_at_lock_time_is_one_line_and_leaves_no_file(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl", 10)
    out = tmp_path / "out.jsonl"
    proc = _run_limited(8, [str(src), "-o", str(out), *PURE])  # the lock's content (> 8 bytes) cannot be written
    assert proc.returncode == 1, proc.stderr
    assert "cannot write the lock file" in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_read_only_output_folder_is_exit_2_and_one_line(tmp_path: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl", 10)
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
    elif subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("running as root and cannot mount a read-only folder")
    try:
        proc = _run([str(src), "-o", str(folder / "out.jsonl"), *PURE])
        assert proc.returncode == 2, proc.stderr
        assert "cannot write the lock file" in proc.stderr and "internal error" not in proc.stderr, proc.stderr
        assert not list(folder.iterdir())
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(folder)], check=True)
        else:
            folder.chmod(0o755)


def test_a_report_the_disk_cannot_hold_is_one_line_no_tmp_and_resume_writes_it(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "Say hi.", "output": "hi"}])
    out = tmp_path / "out.jsonl"
    # a long list parameter: the indented report gives it a line per item, the journal one line in all
    args = ["-m", "perturb", "-q", "--param", "perturb.protect=" + ",".join(f"k{i}" for i in range(60))]
    assert _run([str(src), "-o", str(out), *args]).returncode == 0
    others = max((tmp_path / n).stat().st_size for n in ("out.jsonl", "out.rejects.jsonl", "out.journal.jsonl"))
    report = (tmp_path / "out.report.json").stat().st_size
    assert report > others + 40, (report, others)  # a limit between them fails only the report
    for name in ("out.jsonl", "out.rejects.jsonl", "out.journal.jsonl", "out.report.json"):
        (tmp_path / name).unlink()
    proc = _run_limited((report + others) // 2, [str(src), "-o", str(out), *args])
    assert proc.returncode == 1, proc.stderr
    assert "report" in proc.stderr and "--resume" in proc.stderr and "internal error" not in proc.stderr
    assert not (tmp_path / "out.report.json.tmp").exists() and not (tmp_path / "out.jsonl.lock").exists()
    assert _run([str(src), "-o", str(out), *args, "--resume"]).returncode == 0
    assert json.loads((tmp_path / "out.report.json").read_text())["status"] == "ok"


def test_resume_accepts_a_default_written_out_and_a_speed_only_change(tmp_path: Path, tiny_gguf: Path) -> None:
    src = _dataset(tmp_path / "in.jsonl", 40)
    out = tmp_path / "out.jsonl"
    pure = ["-m", "flatten,null_inject", "--window", "16", "-q", "--checkpoint-every", "0"]
    assert _run([str(src), "-o", str(out), *pure], fault="checkpoint:2").returncode == -signal.SIGKILL
    explicit = ["--param", "flatten.depth=0", "--param", "null_inject.p=0.30", "--seed", "0", "--verify"]
    resumed = _run([str(src), "-o", str(out), *pure, *explicit, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    other = _run([str(src), "-o", str(out), *pure, "--param", "flatten.depth=1", "--resume"])
    assert other.returncode == 2 and "method_params.flatten.depth" in other.stderr  # a real change is still named
    few = write_jsonl(tmp_path / "few.jsonl",
                      [{"instruction": f"Summarise report {i}.", "output": "ok"} for i in range(3)])
    model = [str(few), "-o", str(tmp_path / "m.jsonl"), "-m", "rewrite", "--param", "rewrite.n=1", "--gguf",
             str(tiny_gguf), "--max-tokens", "32", "-q", "--cache-dir", str(tmp_path / "cache")]
    assert _run([*model, "--threads", "1"]).returncode == 0
    again = _run([*model, "--threads", "2", "--parallel", "3", "--resume"])
    assert again.returncode == 0, again.stderr
    sampled = _run([*model, "--threads", "1", "--temperature", "0.2", "--resume"])
    assert sampled.returncode == 2 and "sampling.temperature" in sampled.stderr
