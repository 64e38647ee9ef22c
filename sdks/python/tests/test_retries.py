"""Retries against a listener answering 429/503 with Retry-After: bounded, waiting as told, and never
repeating a non-idempotent write (a POST create, a PUT without cas) after a 503."""
import http.server
import threading
import time
import unittest

from scaivault_sdk import RateLimitError, ScaiVaultClient, ServiceUnavailableError
from tests import support


class Script(support.JsonHandler):
    """Answers from ``server.script`` (a list of statuses), then 200; records every request."""

    def handle_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.seen.append((self.command, self.path, time.monotonic()))  # type: ignore[attr-defined]
        status = self.server.script.pop(0) if self.server.script else 200  # type: ignore[attr-defined]
        if status == 200:
            self.send_json(200, self.server.recorded)  # type: ignore[attr-defined]
        else:
            code = "rate_limited" if status == 429 else "service_unavailable"
            self.send_json(status, {"error": {"code": code, "message": code, "details": {}, "request_id": "req_x"}}, {"Retry-After": "1"})

    do_GET = do_PUT = do_POST = handle_any


class RetryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        # The 200 body is recorded from the real server, so the fake cannot drift from the contract.
        server = support.shared_server()
        status, written = server.call("PUT", "/v1/secrets/pyretry/recorded", {"data": {"k": "v"}, "metadata": {"tags": ["recorded"]}})
        assert status in (200, 201), written
        status, cls.recorded = server.call("GET", "/v1/secrets/pyretry/recorded")
        assert status == 200, cls.recorded

    def setUp(self) -> None:
        self.listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Script)
        self.listener.script, self.listener.seen = [], []  # type: ignore[attr-defined]
        self.listener.recorded = self.recorded  # type: ignore[attr-defined]
        threading.Thread(target=self.listener.serve_forever, daemon=True).start()
        self.client = ScaiVaultClient(base_url=f"http://127.0.0.1:{self.listener.server_port}", token="t", max_attempts=3)

    def tearDown(self) -> None:
        self.listener.shutdown()
        self.listener.server_close()

    def test_read_waits_retry_after_then_succeeds(self) -> None:
        self.listener.script[:] = [429, 503]
        secret = self.client.secrets.read("a/b")
        self.assertEqual(secret.data, {"k": "v"})
        times = [t for _, _, t in self.listener.seen]
        self.assertEqual(len(times), 3)
        self.assertGreaterEqual(times[1] - times[0], 0.95)
        self.assertGreaterEqual(times[2] - times[1], 0.95)

    def test_retries_are_bounded(self) -> None:
        self.listener.script[:] = [429, 429, 429, 429]
        with self.assertRaises(RateLimitError) as caught:
            self.client.secrets.read("a/b")
        self.assertEqual(caught.exception.retry_after, 1)
        self.assertEqual(len(self.listener.seen), 3)

    def test_a_write_without_cas_is_not_repeated_after_503(self) -> None:
        self.listener.script[:] = [503]
        with self.assertRaises(ServiceUnavailableError):
            self.client.secrets.write(path="a/b", data={"k": "v"})
        with self.assertRaises(ServiceUnavailableError):
            self.listener.script[:] = [503]
            self.client.webhooks.create(name="n", url="http://example.test/h", secret="s")
        self.assertEqual([m for m, _, _ in self.listener.seen], ["PUT", "POST"])

    def test_a_write_with_cas_is_repeated_after_503(self) -> None:
        self.listener.script[:] = [503]
        self.client.secrets.write(path="a/b", data={"k": "v"}, cas=1)
        self.assertEqual([m for m, _, _ in self.listener.seen], ["PUT", "PUT"])

    def test_a_rate_limited_write_is_repeated(self) -> None:
        # 429 is refused before the write is applied, so repeating it cannot apply it twice.
        self.listener.script[:] = [429]
        self.client.secrets.write(path="a/b", data={"k": "v"})
        self.assertEqual([m for m, _, _ in self.listener.seen], ["PUT", "PUT"])


class RealRateLimitTest(unittest.TestCase):
    """The real server's limiter (RATE_LIMIT_READ=60: a bucket of 60, one token a second)."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = support.Server({"RATE_LIMIT_READ": "60"})

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def test_reads_past_the_limit_wait_retry_after_and_succeed(self) -> None:
        self.server.call("PUT", "/v1/secrets/py/limited", {"data": {"v": "1"}})
        patient = ScaiVaultClient(base_url=self.server.base_url, token=self.server.admin_token, max_attempts=5)
        impatient = ScaiVaultClient(base_url=self.server.base_url, token=self.server.admin_token, max_attempts=1)
        limited = None
        for _ in range(120):
            try:
                impatient.secrets.read("py/limited")
            except RateLimitError as error:
                limited = error
                break
        self.assertIsNotNone(limited, "the limiter never answered 429")
        self.assertEqual((limited.code, limited.status), ("rate_limited", 429))
        self.assertGreaterEqual(limited.retry_after, 1)
        self.assertEqual(patient.secrets.read("py/limited").data, {"v": "1"})
