"""The opt-in read cache and the background thread that invalidates it from the event stream."""
from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from typing import Any, Callable, Optional

from ._transport import Transport, url_for


class SecretCache:
    """Entries live ``ttl`` seconds; an event naming a path drops its entries at once. A generation per
    path stops a read that was in flight during an invalidation from storing what it fetched before."""

    def __init__(self, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("cache_ttl must be a positive number of seconds")
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, Any]] = {}
        self._generations: dict[str, int] = {}
        self._epoch = 0

    def get(self, path: str, variant: str = "") -> Any:
        with self._lock:
            entry = self._entries.get((path, variant))
            if entry is None:
                return None
            if time.monotonic() >= entry[0]:
                del self._entries[(path, variant)]
                return None
            return entry[1]

    def ticket(self, path: str) -> tuple[int, int]:
        with self._lock:
            return (self._epoch, self._generations.get(path, 0))

    def put(self, path: str, variant: str, value: Any, ticket: tuple[int, int]) -> None:
        with self._lock:
            if ticket != (self._epoch, self._generations.get(path, 0)):
                return
            self._entries[(path, variant)] = (time.monotonic() + self._ttl, value)

    def invalidate(self, path: str) -> None:
        with self._lock:
            self._generations[path] = self._generations.get(path, 0) + 1
            for key in [k for k in self._entries if k[0] == path]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._epoch += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class EventStreamThread(threading.Thread):
    """Follows ``GET /v1/events/stream`` (Server-Sent Events), reconnecting with backoff and resuming
    with ``Last-Event-ID``. While it is down the cache falls back to its TTL. ``stop()`` ends it."""

    def __init__(self, http: Transport, on_event: Callable[[dict[str, Any]], None],
                 on_open: Optional[Callable[[bool], None]] = None) -> None:
        super().__init__(name="scaivault-event-stream", daemon=True)
        self._http = http
        self._on_event = on_event
        self._on_open = on_open
        self._stopped = threading.Event()
        self._conn: Optional[http.client.HTTPConnection] = None
        self._last_event_id: Optional[str] = None
        self.connected = threading.Event()

    def stop(self) -> None:
        self._stopped.set()
        conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(2)
            except OSError:
                pass

    def run(self) -> None:
        backoff = 0.5
        while not self._stopped.is_set():
            try:
                self._connect_once()
                backoff = 0.5
            except Exception:  # noqa: BLE001 - any failure means: reconnect later
                pass
            self.connected.clear()
            if self._stopped.wait(backoff):
                break
            backoff = min(backoff * 2, 30.0)

    def _connect_once(self) -> None:
        url = urllib.parse.urlsplit(url_for(self._http.base_url, "/v1/events/stream"))
        if url.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(url.hostname or "127.0.0.1", url.port, timeout=90, context=self._http.ssl_context)
        else:
            conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=90)
        self._conn = conn
        try:
            headers = self._http.headers({"Accept": "text/event-stream"})
            resumed = self._last_event_id is not None
            if resumed:
                headers["Last-Event-ID"] = self._last_event_id  # type: ignore[assignment]
            conn.request("GET", url.path + (f"?{url.query}" if url.query else ""), headers=headers)
            response = conn.getresponse()
            if response.status != 200:
                response.read()
                raise ConnectionError(f"event stream answered {response.status}")
            self.connected.set()
            if self._on_open is not None:
                self._on_open(resumed)
            data: list[str] = []
            event_id: Optional[str] = None
            while not self._stopped.is_set():
                raw = response.fp.readline()
                if not raw:
                    raise ConnectionError("event stream closed")
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line == "":
                    if event_id is not None:
                        self._last_event_id = event_id
                    if data:
                        self._dispatch("\n".join(data))
                    data, event_id = [], None
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
                elif line.startswith("id:"):
                    event_id = line[3:].strip()
        finally:
            self._conn = None
            conn.close()

    def _dispatch(self, text: str) -> None:
        try:
            event = json.loads(text)
        except ValueError:
            return
        if isinstance(event, dict) and isinstance(event.get("event_type"), str):
            self._on_event(event)
