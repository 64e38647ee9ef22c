"""The opt-in cache: served from memory, invalidated at once by the event stream, stopped by close()."""
import time
import types
import unittest
from unittest import mock

from scaivault_sdk import ScaiVaultClient
from tests import support


class CacheTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = support.shared_server()
        cls.writer = ScaiVaultClient(base_url=cls.server.base_url, token=cls.server.admin_token)

    def test_cached_reads_do_not_reach_the_server(self) -> None:
        self.writer.secrets.write(path="py/cache/plain", data={"v": "1"})
        with ScaiVaultClient(base_url=self.server.base_url, token=self.server.admin_token, cache_ttl=300) as cached:
            first = cached.secrets.read("py/cache/plain")
            first.data["v"] = "mutated by the caller"
            self.assertEqual(cached.secrets.read("py/cache/plain").data["v"], "1")
            # Its own write drops the entry at once, stream or not.
            cached.secrets.write(path="py/cache/plain", data={"v": "2"})
            self.assertEqual(cached.secrets.read("py/cache/plain").data["v"], "2")

    def test_someone_elses_write_is_seen_through_the_stream(self) -> None:
        self.writer.secrets.write(path="py/cache/shared", data={"v": "old"})
        with ScaiVaultClient(base_url=self.server.base_url, token=self.server.admin_token, cache_ttl=300) as cached:
            self.assertTrue(cached.wait_for_cache_stream(10), "the cache's event stream did not connect")
            self.assertEqual(cached.secrets.read("py/cache/shared").data["v"], "old")
            self.writer.secrets.write(path="py/cache/shared", data={"v": "new"})
            # The TTL is 300 s: seeing the write within this generous bound (a hang detector, not a
            # latency target) proves the stream dropped the entry.
            deadline = time.monotonic() + 15.0
            seen = None
            while time.monotonic() < deadline:
                seen = cached.secrets.read("py/cache/shared").data["v"]
                if seen == "new":
                    break
                time.sleep(0.05)
            self.assertEqual(seen, "new")
        self.assertFalse(cached.cache_stream_connected)


class StreamDownTest(unittest.TestCase):
    """A listener whose event stream answers 503: the cache falls back to its TTL; close() stops the thread."""

    def test_ttl_bounds_staleness_while_the_stream_is_down(self) -> None:
        import http.server
        import threading

        counts = {"reads": 0, "stream": 0}
        attempts_by: dict = {}

        class Handler(support.JsonHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path.startswith("/v1/events/stream"):
                    counts["stream"] += 1
                    bearer = self.headers.get("Authorization", "")
                    attempts_by[bearer] = attempts_by.get(bearer, 0) + 1
                    status, body = 503, {"error": {"code": "service_unavailable", "message": "down", "details": {}, "request_id": "req_s"}}
                else:
                    counts["reads"] += 1
                    status, body = 200, {"path": "a/b", "version": counts["reads"], "data": {"n": counts["reads"]}, "metadata": {}}
                self.send_json(status, body)

        listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=listener.serve_forever, daemon=True).start()
        # A controllable clock for the cache only: "within the TTL" and "after it" are moments the
        # test sets, not reads that must land inside a 1 s window.
        now = [1000.0]
        fake_time = types.SimpleNamespace(monotonic=lambda: now[0])
        open_client = None
        try:
            with mock.patch("scaivault_sdk.cache.time", fake_time):
                client = ScaiVaultClient(base_url=f"http://127.0.0.1:{listener.server_port}", token="t", cache_ttl=1)
                open_client = ScaiVaultClient(base_url=f"http://127.0.0.1:{listener.server_port}", token="still-open", cache_ttl=1)
                self.assertEqual(client.secrets.read("a/b").data["n"], 1)
                open_client.secrets.read("a/b")
                now[0] += 0.9
                self.assertEqual(client.secrets.read("a/b").data["n"], 1)
                self.assertEqual(counts["reads"], 2)
                self.assertFalse(client.cache_stream_connected)
                now[0] += 0.2
                self.assertEqual(client.secrets.read("a/b").data["n"], 3)
            client.close()
            self.assertGreaterEqual(attempts_by.get("Bearer t", 0), 1)
            # close() stops the thread: the client left open keeps retrying its stream; by the time it
            # has retried twice more (same backoff, started together), the closed one would have too.
            closed_attempts = attempts_by.get("Bearer t", 0)
            open_attempts = attempts_by.get("Bearer still-open", 0)
            deadline = time.monotonic() + 60
            while attempts_by.get("Bearer still-open", 0) < open_attempts + 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertGreaterEqual(attempts_by.get("Bearer still-open", 0), open_attempts + 2)
            self.assertEqual(attempts_by.get("Bearer t", 0), closed_attempts)
        finally:
            if open_client is not None:
                open_client.close()
            listener.shutdown()
            listener.server_close()
