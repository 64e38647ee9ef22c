"""The opt-in cache: served from memory, invalidated at once by the event stream, stopped by close()."""
import time
import unittest

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

    def test_someone_elses_write_is_seen_within_a_second(self) -> None:
        self.writer.secrets.write(path="py/cache/shared", data={"v": "old"})
        with ScaiVaultClient(base_url=self.server.base_url, token=self.server.admin_token, cache_ttl=300) as cached:
            self.assertTrue(cached.wait_for_cache_stream(10), "the cache's event stream did not connect")
            self.assertEqual(cached.secrets.read("py/cache/shared").data["v"], "old")
            self.writer.secrets.write(path="py/cache/shared", data={"v": "new"})
            deadline = time.monotonic() + 1.0
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

        class Handler(support.JsonHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path.startswith("/v1/events/stream"):
                    counts["stream"] += 1
                    status, body = 503, {"error": {"code": "service_unavailable", "message": "down", "details": {}, "request_id": "req_s"}}
                else:
                    counts["reads"] += 1
                    status, body = 200, {"path": "a/b", "version": counts["reads"], "data": {"n": counts["reads"]}, "metadata": {}}
                self.send_json(status, body)

        listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=listener.serve_forever, daemon=True).start()
        try:
            client = ScaiVaultClient(base_url=f"http://127.0.0.1:{listener.server_port}", token="t", cache_ttl=1)
            self.assertEqual(client.secrets.read("a/b").data["n"], 1)
            self.assertEqual(client.secrets.read("a/b").data["n"], 1)
            self.assertEqual(counts["reads"], 1)
            self.assertFalse(client.cache_stream_connected)
            time.sleep(1.2)
            self.assertEqual(client.secrets.read("a/b").data["n"], 2)
            client.close()
            self.assertGreaterEqual(counts["stream"], 1)
            attempts = counts["stream"]
            time.sleep(1.5)
            self.assertEqual(counts["stream"], attempts)
        finally:
            listener.shutdown()
            listener.server_close()
