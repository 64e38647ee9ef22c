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
        if not self.server.has_route("GET", "/v1/events/stream?limit=1"):
            self.skipTest("the event stream is not built yet")
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
