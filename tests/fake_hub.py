"""A loopback stand-in for the Hugging Face hub's dataset download API (HF_ENDPOINT points here).

Serves repo info, the recursive tree listing and ``resolve`` HEAD/GET for in-memory repos; a
gated repo answers 403 ``X-Error-Code: GatedRepo`` on file downloads unless the request carries
one of the repo's allowed tokens. Every request path is recorded in ``calls``.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from tests.hub_cache import LFS_SUFFIXES, git_blob_sha1


class FakeHub:
    def __init__(self):
        self.repos: dict[str, dict] = {}
        self.calls: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                hub._serve(self, body=True)

            def do_HEAD(self):
                hub._serve(self, body=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, repo_id: str, files: dict[str, bytes], *, tokens: tuple[str, ...] | None = None) -> str:
        """Publish ``files`` as the new ``main`` of dataset ``repo_id``; ``tokens`` makes it gated."""
        commit = hashlib.sha1(repr(sorted(files.items())).encode() + repo_id.encode()).hexdigest()
        self.repos[repo_id] = {"commit": commit, "files": dict(files), "tokens": tokens}
        return commit

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def _send(self, h, status: int, data: bytes = b"", headers: dict | None = None, body: bool = True):
        h.send_response(status)
        for k, v in {"Content-Length": str(len(data)), **(headers or {})}.items():
            h.send_header(k, v)
        h.end_headers()
        if body:
            h.wfile.write(data)

    def _serve(self, h, body: bool):
        path = unquote(urlsplit(h.path).path)
        self.calls.append(f"{h.command} {path}")
        m = (re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/(revision|tree)/([^/]+)", path)
             or re.fullmatch(r"/datasets/([^/]+/[^/]+)/(resolve)/([^/]+)/(.+)", path))
        repo = self.repos.get(m.group(1)) if m else None
        if repo is None:
            return self._send(h, 404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"}, body)
        if m.group(3) not in ("main", repo["commit"]):
            return self._send(h, 404, b'{"error":"Invalid rev id"}', {"X-Error-Code": "RevisionNotFound"}, body)
        files, commit = repo["files"], repo["commit"]
        if m.group(2) == "revision":
            info = {"id": m.group(1), "sha": commit, "private": False, "gated": "auto" if repo["tokens"] else False,
                    "siblings": [{"rfilename": f} for f in sorted(files)]}
            return self._send(h, 200, json.dumps(info).encode(), {"Content-Type": "application/json"}, body)
        if m.group(2) == "tree":
            tree = []
            for f, data in sorted(files.items()):
                entry = {"type": "file", "path": f, "size": len(data), "oid": git_blob_sha1(data)}
                if f.endswith(LFS_SUFFIXES):
                    entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 130}
                tree.append(entry)
            return self._send(h, 200, json.dumps(tree).encode(), {"Content-Type": "application/json"}, body)
        name = m.group(4)
        if repo["tokens"] and h.headers.get("Authorization", "").removeprefix("Bearer ") not in repo["tokens"]:
            return self._send(h, 403, b'{"error":"Access to this dataset is restricted"}',
                              {"X-Error-Code": "GatedRepo"}, body)
        if name not in files:
            return self._send(h, 404, b'{"error":"Entry not found"}', {"X-Error-Code": "EntryNotFound"}, body)
        data = files[name]
        etag = hashlib.sha256(data).hexdigest() if name.endswith(LFS_SUFFIXES) else git_blob_sha1(data)
        return self._send(h, 200, data, {"X-Repo-Commit": commit, "ETag": f'"{etag}"'}, body)
