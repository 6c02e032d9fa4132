"""The review server: stdlib http.server on 127.0.0.1, the page from package data, JSON endpoints.

Only the stdlib, so an air-gapped machine needs nothing more than qaug itself; the page loads nothing
from outside (no CDN, no web fonts).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlparse

from qaug.review.decisions import DecisionLog
from qaug.review.index import ReviewIndex, companion
from qaug.review.view import group_view

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8"}
_STATIC = ("index.html", "app.js", "app.css")


class ReviewApp:
    """The state one server holds: the index of the output and the decision log beside it."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.index = ReviewIndex(output)
        self.log = DecisionLog(companion(output, ".review.jsonl"))
        self._filters: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()

    def matching(self, q: dict[str, str]) -> Any:
        key = tuple(q.get(k, "") for k in ("method", "status", "code", "q"))
        with self._lock:
            got = self._filters.get(key)
        if got is None:
            got = self.index.matching(*key)
            with self._lock:
                if len(self._filters) > 16:
                    self._filters.clear()
                self._filters[key] = got
        return got

    def meta(self) -> dict[str, Any]:
        resume = 0
        if self.log.entries:
            g = self.index.group_of_key(str(self.log.entries[-1].get("parent")))
            resume = g if g is not None else 0
        ix = self.index
        return {"file": str(self.output), "review_file": str(self.log.path), "groups": len(ix),
                "methods": [m for m in ix.methods.names if m != "original"],
                "codes": sorted(c for c in ix.codes.names if c), "resume_group": resume,
                "decisions": len(self.log.entries)}

    def group(self, g: int) -> dict[str, Any]:
        view = group_view(self.index, g)
        self.log.refresh()
        for it in view["items"]:
            it["decision"] = self.log.latest.get(it["id"])
        return view


def _handler(app: ReviewApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "qaug-review"

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet: the terminal shows the URL only
            pass

        def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", "default-src 'self'; connect-src 'self'")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, value: Any, code: int = 200) -> None:
            self._send(code, json.dumps(value, ensure_ascii=False).encode("utf-8"))

        def _local(self) -> bool:
            """Only pages of this server may talk to it: the Host must be ours (no DNS rebinding) and a
            cross-site page's POST is refused by its Origin (no other site can record decisions)."""
            port = cast("tuple[str, int]", self.server.server_address)[1]  # a TCP server
            ours = {f"127.0.0.1:{port}", f"localhost:{port}"}
            if self.headers.get("Host") not in ours:
                return False
            origin = self.headers.get("Origin")
            return origin is None or origin in {f"http://{h}" for h in ours}

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if not self._local():
                return self._json({"error": "only pages served by this server may use it"}, 403)
            url = urlparse(self.path)
            q = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                if url.path in ("/", "/index.html") or url.path.lstrip("/") in _STATIC:
                    name = "index.html" if url.path == "/" else url.path.lstrip("/")
                    body = resources.files("qaug.review").joinpath("static").joinpath(name).read_bytes()
                    return self._send(200, body, _TYPES[Path(name).suffix])
                if url.path == "/api/meta":
                    return self._json(app.meta())
                if url.path == "/api/groups":
                    got = app.matching(q)
                    start, limit = max(0, int(q.get("start", 0))), min(1000, max(1, int(q.get("limit", 200))))
                    return self._json({"total": len(got), "start": start, "groups": list(got[start:start + limit])})
                if url.path == "/api/group":
                    g = int(q.get("g", -1))
                    if not 0 <= g < len(app.index):
                        return self._json({"error": "no such group"}, 404)
                    return self._json(app.group(g))
                if url.path == "/api/decisions":
                    since = max(0, int(q.get("since", 0)))
                    got = app.log.since(since)
                    return self._json({"next": since + len(got), "decisions": got})
                if url.path == "/favicon.ico":
                    return self._send(204, b"", "image/x-icon")
                self._json({"error": "not found"}, 404)
            except (ValueError, KeyError) as exc:
                self._json({"error": str(exc)}, 400)

        def do_POST(self) -> None:  # noqa: N802
            if not self._local() or not (self.headers.get("Content-Type") or "").startswith("application/json"):
                return self._json({"error": "only pages served by this server may use it"}, 403)
            if urlparse(self.path).path != "/api/decide":
                return self._json({"error": "not found"}, 404)
            try:
                n = int(self.headers.get("Content-Length", 0))
                entry = json.loads(self.rfile.read(n))
                if not isinstance(entry, dict):
                    raise ValueError("a decision is a JSON object")
                stored = app.log.append(entry)
            except ValueError as exc:
                return self._json({"error": str(exc)}, 400)
            self._json({"ok": True, "decision": stored, "count": len(app.log.entries)})

    return Handler


def make_server(output: Path, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """A server bound to 127.0.0.1 (port 0: a free one) and its URL; call serve_forever() on it."""
    app = ReviewApp(output)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(app))
    server.daemon_threads = True
    return server, f"http://127.0.0.1:{server.server_address[1]}/"
