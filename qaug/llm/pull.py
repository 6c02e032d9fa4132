"""`qaug pull`: the one command that uses the network, to fetch a GGUF from the Hugging Face Hub.

Files land in the models folder, interrupted downloads resume, and size and sha256 are
checked against the catalog where it knows them, else against the Hub's own LFS record.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaug.errors import RunFailed, UsageError
from qaug.llm.models import catalog, file_sha256


@dataclass(frozen=True)
class PullPlan:
    repo: str
    files: tuple[str, ...]
    dest: Path


def _hub():
    """Import huggingface_hub with the offline switch lifted: pull is the one place allowed online."""
    os.environ["HF_HUB_OFFLINE"] = "0"
    try:
        import huggingface_hub
    except ImportError:
        raise UsageError("qaug pull needs huggingface-hub: pip install huggingface-hub") from None
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()  # its retry chatter would bury our one line
    return huggingface_hub


def _reachable(hub: Any, repo: str) -> None:
    """One quick connection to the Hub's host first: with no network, huggingface-hub retries for tens of
    seconds before it gives up, and the answer is the same. Behind a proxy the host is not reached directly,
    so then the Hub's own client decides."""
    import socket
    from urllib.parse import urlsplit

    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                                        "all_proxy")):
        return
    url = urlsplit(hub.constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=5).close()
    except OSError as exc:
        raise _network_error(OSError(f"cannot reach {url.hostname}:{port} ({exc.strerror or exc})"), repo) from None


def _network_error(exc: Exception, repo: str) -> RunFailed:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return RunFailed(f"cannot download from the Hugging Face Hub ({repo}): {text}. "
                     "On an air-gapped machine, copy the .gguf into the models folder instead (see README).")


def plan(name: str | None, quant: str | None, repo: str | None, file: str | None, dest: Path) -> PullPlan:
    """Which files of which repo to fetch; lists the repo (network) only when a pattern must be matched."""
    cat = catalog()
    if repo:
        if not file:
            raise UsageError("--repo needs --file (a file name or a glob such as '*q4_k_m*.gguf')")
        pattern = file
    else:
        key = name or cat["default"]
        entry = cat["models"].get(key)
        if entry is None:
            raise UsageError(f"unknown model {key!r}; known: {', '.join(cat['models'])} (or use --repo/--file)")
        q = (quant or entry["default_quant"]).lower()
        if q not in entry["quants"]:
            raise UsageError(f"--quant {q!r} is not offered for {key}: {', '.join(entry['quants'])}")
        repo, pattern = entry["repo"], file or entry["pattern"].format(quant=q)
    if not any(ch in pattern for ch in "*?["):
        return PullPlan(repo, (pattern,), dest)
    hub = _hub()
    _reachable(hub, repo)
    try:
        names = hub.list_repo_files(repo)
    except Exception as exc:  # noqa: BLE001 - every hub/network failure becomes one line
        raise _network_error(exc, repo) from None
    matches = sorted(n for n in names if fnmatch.fnmatch(n.lower(), pattern.lower()))
    if not matches:
        raise RunFailed(f"no file in {repo} matches {pattern!r}")
    return PullPlan(repo, tuple(matches), dest)


def pull(p: PullPlan, say: Callable[[str], None] = print) -> list[Path]:
    """Download (resuming) and verify each file of the plan; returns the local paths."""
    hub = _hub()
    _reachable(hub, p.repo)
    p.dest.mkdir(parents=True, exist_ok=True)
    known = {}
    for entry in catalog()["models"].values():
        if entry["repo"] == p.repo:
            known = entry.get("files", {})
    out: list[Path] = []
    for name in p.files:
        say(f"downloading {p.repo}/{name} -> {p.dest}")
        try:
            local = Path(hub.hf_hub_download(p.repo, name, local_dir=p.dest))
            info = next(iter(hub.HfApi().get_paths_info(p.repo, [name])), None)
        except Exception as exc:  # noqa: BLE001
            raise _network_error(exc, p.repo) from None
        expected_sha = known.get(name, {}).get("sha256") or getattr(getattr(info, "lfs", None), "sha256", None)
        expected_size = known.get(name, {}).get("size") or getattr(info, "size", None)
        if expected_size and local.stat().st_size != expected_size:
            raise RunFailed(f"{local}: size {local.stat().st_size:,} differs from the expected {expected_size:,}; "
                            "run qaug pull again to resume")
        if expected_sha:
            got = file_sha256(local)
            if got != expected_sha:
                raise RunFailed(f"{local}: sha256 {got[:16]}… differs from the expected {expected_sha[:16]}…; "
                                "delete it and pull again")
            say(f"verified sha256 {got[:16]}…")
        else:
            say("no sha256 known for this file; size checked only")
        out.append(local)
    return out
