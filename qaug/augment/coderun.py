"""Run a self-contained Python snippet and its renamed twin, to see that they behave the same.

The syntax-tree check proves a rename changed names only; it cannot see a name passed by string
(`f(**{'alpha': 1})`, `kwargs['al' + 'pha']`). Where the code runs on its own, running both versions
and comparing what they print and how they end catches that. Only code that plainly cannot touch
the machine is run: imports from a few pure modules, no file, eval or reflection builtins, no
attribute or name that starts with an underscore (dunders are how sandboxes are escaped), and no
string that reaches attributes through str.format. It runs in a forked child of a separate, isolated
interpreter, under a CPU, memory and file-size limit, in an empty folder, with an audit hook that
refuses every event outside a short list (no open, no os, no subprocess, no socket, no new import).
A snippet that is not self-contained, or whose runs do not finish, is not checked.

One helper interpreter serves a whole run (a fork per snippet costs milliseconds, a fresh
interpreter tens of them); it is started on first use and ends with the process.
"""

from __future__ import annotations

import ast
import atexit
import json
import re
import subprocess
import sys
import threading
from typing import Any, NamedTuple

PURE_MODULES = frozenset({
    "math", "cmath", "itertools", "functools", "collections", "heapq", "bisect", "operator", "string", "re",
    "fractions", "decimal", "statistics", "typing", "dataclasses", "enum", "copy", "json", "textwrap", "numbers",
})
_BANNED_NAMES = frozenset({
    "open", "exec", "eval", "compile", "__import__", "input", "globals", "locals", "vars", "getattr", "setattr",
    "delattr", "breakpoint", "help", "exit", "quit", "memoryview",
})
# attributes through which a pure module reaches the machine (enum.sys, dataclasses.inspect, ...)
_BANNED_ATTRS = frozenset({
    "sys", "os", "modules", "builtins", "subprocess", "importlib", "io", "shutil", "socket", "ctypes", "posix",
    "pathlib", "gc", "inspect", "types", "code", "mro", "format_map", "f_globals", "f_locals", "f_back", "gi_frame",
    "cr_frame", "ag_frame", "tb_frame", "tb_next", "system", "popen", "weakref", "abc",
})
_FORMAT_FIELD_ATTR = re.compile(r"\{[^{}]*[.\[][^{}]*\}")
CPU_SECONDS = 2
WALL_SECONDS = 5

_SERVER = r'''
import hashlib, json, os, re, resource, select, signal, sys, tempfile, time
import %(modules)s
# what pure code and those modules' internals raise (namedtuple and dataclasses read their caller's frame)
ALLOWED = {"exec", "compile", "object.__setattr__", "object.__delattr__", "object.__getattr__", "builtins.id",
           "sys._getframe"}
EMPTY = tempfile.mkdtemp(prefix="qaug-run-")
os.chmod(EMPTY, 0o500)

class Capped:
    def __init__(self):
        self.parts, self.size = [], 0
    def write(self, s):
        self.size += len(s)
        if self.size > 1 << 20:
            raise RuntimeError("snippet output over 1 MB")
        self.parts.append(s)
        return len(s)
    def flush(self):
        pass

def child(source, wfd):
    resource.setrlimit(resource.RLIMIT_CPU, (%(cpu)d, %(cpu)d))
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    os.chdir(EMPTY)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    code = compile(source, "<snippet>", "exec")
    out = Capped()
    sys.stdout, sys.stderr = out, Capped()
    loaded = set(sys.modules)
    def hook(event, args):
        if event == "import" and args and str(args[0]) in loaded:
            return
        if event not in ALLOWED:
            raise RuntimeError("refused by the snippet sandbox: " + event)
    error = None
    sys.addaudithook(hook)
    try:
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    except BaseException as exc:
        error = type(exc).__name__
    text = re.sub(r"0x[0-9a-fA-F]+", "0x?", "".join(out.parts))
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    os.write(wfd, json.dumps({"error": error, "out": digest}).encode())

def run_all(sources):
    procs = []
    for source in sources:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                child(source, w)
            finally:
                os._exit(0)
        os.close(w)
        procs.append((pid, r))
    deadline = time.monotonic() + %(wall)d
    results = []
    for pid, r in procs:
        data = b""
        while True:
            left = deadline - time.monotonic()
            ready = select.select([r], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                os.kill(pid, signal.SIGKILL)
                data = None
                break
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        os.close(r)
        os.waitpid(pid, 0)
        try:
            results.append(json.loads(data) if data else None)
        except ValueError:
            results.append(None)
    return results

for line in sys.stdin:
    job = json.loads(line)
    sys.stdout.write(json.dumps(run_all(job)) + "\n")
    sys.stdout.flush()
'''


class RunResult(NamedTuple):
    """How a snippet ended: its exception type (None when it finished) and a digest of what it printed."""

    error: str | None
    out: str


def runnable(tree: ast.Module) -> str | None:
    """None when the snippet is self-contained and does something when run; else why it is not run."""
    does = False
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and isinstance(stmt.value, ast.Constant):
            continue
        does = True
    if not does:
        return "defines only"
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and (node.level or not node.module):
                return "relative import"
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(str(n).split(".")[0] not in PURE_MODULES or "." in str(n) for n in names):
                return "imports a module that is not pure"
        elif isinstance(node, ast.Name):
            if node.id in _BANNED_NAMES or (node.id.startswith("_") and node.id not in ("_", "__name__")):
                return f"uses {node.id}"
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_") or node.attr in _BANNED_ATTRS:
                return f"uses .{node.attr}"
        elif isinstance(node, ast.arg) and node.arg.startswith("__"):
            return f"uses {node.arg}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "__" in node.value or _FORMAT_FIELD_ATTR.search(node.value):
                return "a string that could reach attributes"
        elif isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith, ast.Global)):
            return "async code or globals"
    return None


class _Server:
    """The helper interpreter: one JSON line of sources in, one JSON line of results out."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def run(self, sources: list[str]) -> list[Any]:
        with self._lock:
            for _ in range(2):  # a helper that died (killed, out of memory) is started again once
                proc = self._start()
                try:
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(json.dumps(sources).encode("utf-8", "surrogatepass") + b"\n")
                    proc.stdin.flush()
                    line = proc.stdout.readline()
                    if line:
                        return json.loads(line)
                except (OSError, ValueError):
                    pass
                self.close()
        return [None] * len(sources)

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            code = _SERVER % {"modules": ", ".join(sorted(PURE_MODULES)), "cpu": CPU_SECONDS, "wall": WALL_SECONDS}
            self._proc = subprocess.Popen([sys.executable, "-S", "-s", "-B", "-c", code], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          env={"PYTHONHASHSEED": "0", "PYTHONIOENCODING": "utf-8"})
        return self._proc

    def close(self) -> None:
        if self._proc is not None:
            try:
                self._proc.kill()
                self._proc.wait(5)
            except OSError:
                pass
            self._proc = None


_server = _Server()
atexit.register(_server.close)


def run_pair(old: str, new: str) -> tuple[RunResult | None, RunResult | None]:
    """Both snippets run side by side; None for one that did not finish in time or within its limits."""
    if sys.platform == "win32":  # pragma: no cover - fork and resource limits are POSIX
        return None, None
    results = []
    for r in _server.run([old, new]):
        try:
            results.append(RunResult(r["error"], r["out"]) if r is not None else None)
        except (KeyError, TypeError):
            results.append(None)
    return results[0], results[1]


def behaviour_change(old: str, new: str) -> str | None:
    """Why the renamed snippet `new` behaves differently from `old` when run, or None (same, or not known).

    Only a finished run of each is compared: a run cut by its limits says nothing, and must not make a
    rerun's output differ.
    """
    before, after = run_pair(old, new)
    if before is None or after is None or before.error in ("RuntimeError", "MemoryError", "RecursionError"):
        return None  # a run did not finish, or the original met the sandbox: nothing to compare
    if after.error != before.error:
        return f"the renamed code raises {after.error}" if after.error else "the renamed code no longer raises"
    if after.out != before.out:
        return "the renamed code prints something else"
    return None
