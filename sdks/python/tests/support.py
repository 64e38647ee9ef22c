"""Starts a real ScaiVault (``node dist/main.js``) on a free port with a fresh SQLite database."""
from __future__ import annotations

import base64
import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any, Optional

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SDK_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if SDK_DIR not in sys.path:
    sys.path.insert(0, SDK_DIR)


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """A quiet handler for fake endpoints (third parties, scripted failures) that answers JSON."""

    def send_json(self, status: int, body: Any, headers: Optional[dict[str, str]] = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, env: Optional[dict[str, str]] = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="scaivault-py-")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.admin_token = "skt_" + secrets.token_urlsafe(32)
        full_env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:{os.path.join(self.dir, 'vault.db')}",
            "KMS_LOCAL_KEY": base64.b64encode(os.urandom(32)).decode(),
            "SCAIVAULT_BOOTSTRAP_TOKEN": self.admin_token,
            "BIND_ADDRESS": f"127.0.0.1:{self.port}",
            "SCAIVAULT_WEBHOOK_ALLOW_PRIVATE": "true",
            "LOG_LEVEL": "warn",
            **(env or {}),
        }
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.process = subprocess.Popen(["node", os.path.join(ROOT, "dist", "main.js")], cwd=self.dir, env=full_env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}); log in {self.dir}/server.log")
            try:
                with urllib.request.urlopen(self.base_url + "/v1/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.time() > deadline:
                raise RuntimeError("the server did not become healthy in 30 s")
            time.sleep(0.1)

    def call(self, method: str, path: str, body: Any = None, token: Optional[str] = None) -> tuple[int, Any]:
        """A raw request, for setting up fixtures independently of the SDK under test."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {token or self.admin_token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


_shared: Optional[Server] = None


def shared_server() -> Server:
    """One server for the whole run (started lazily, stopped by run_tests.py)."""
    global _shared
    if _shared is None:
        _shared = Server()
    return _shared


def stop_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None
