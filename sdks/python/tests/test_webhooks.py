"""verify_webhook_signature for both schemes: known vectors, and real deliveries from the server."""
import hashlib
import hmac
import http.server
import json
import queue
import threading
import time
import unittest

from scaivault_sdk import ScaiVaultClient, verify_webhook_signature
from tests import support


class VectorsTest(unittest.TestCase):
    body = b'{"event_type":"secret.updated","path":"a/b"}'
    secret = "whsec_test"

    def test_body_scheme(self) -> None:
        sig = hmac.new(self.secret.encode(), self.body, hashlib.sha256).hexdigest()
        self.assertTrue(verify_webhook_signature(self.body, sig, self.secret))
        self.assertFalse(verify_webhook_signature(self.body + b" ", sig, self.secret))
        self.assertFalse(verify_webhook_signature(self.body, sig, "whsec_other"))
        self.assertFalse(verify_webhook_signature(self.body, "", self.secret))

    def test_timestamped_scheme(self) -> None:
        ts = "1700000000"
        sig = "sha256=" + hmac.new(self.secret.encode(), ts.encode() + b"." + self.body, hashlib.sha256).hexdigest()
        self.assertTrue(verify_webhook_signature(self.body, sig, self.secret, timestamp=ts, now=1700000100))
        self.assertFalse(verify_webhook_signature(self.body, sig, self.secret, timestamp=ts, now=1700000400))
        self.assertFalse(verify_webhook_signature(self.body, sig, self.secret, timestamp="1700000001", now=1700000100))
        self.assertFalse(verify_webhook_signature(self.body, sig, self.secret, now=1700000100))


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.put((dict(self.headers), body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class RealDeliveriesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = support.shared_server()
        cls.client = ScaiVaultClient(base_url=cls.server.base_url, token=cls.server.admin_token)

    def setUp(self) -> None:
        self.listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        self.listener.received = queue.Queue()  # type: ignore[attr-defined]
        threading.Thread(target=self.listener.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.listener.server_port}/scaivault/events"

    def tearDown(self) -> None:
        self.listener.shutdown()
        self.listener.server_close()

    def next_delivery(self, path: str) -> tuple:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                headers, body = self.listener.received.get(timeout=1)  # type: ignore[attr-defined]
            except queue.Empty:
                continue
            if json.loads(body).get("path") == path:
                return {k.lower(): v for k, v in headers.items()}, body
        self.fail("no delivery within 20 s")

    def test_subscription_delivery_verifies_with_the_body_scheme(self) -> None:
        secret = "whsec_py_sub"
        self.client.subscriptions.create(name="py-sub", paths=["py/hooks/sub"], events=["secret.created", "secret.updated"],
                                         delivery={"type": "webhook", "url": self.url, "secret": secret})
        self.client.secrets.write(path="py/hooks/sub", data={"v": "1"})
        headers, body = self.next_delivery("py/hooks/sub")
        self.assertTrue(verify_webhook_signature(body, headers["x-scaivault-signature"], secret))
        self.assertFalse(verify_webhook_signature(body, headers["x-scaivault-signature"], "whsec_wrong"))

    def test_webhook_delivery_verifies_with_the_timestamped_scheme(self) -> None:
        secret = "whsec_py_hook"
        self.client.webhooks.create(name="py-hook", url=self.url, secret=secret, events=["secret.created"],
                                    filters={"path_prefix": "py/hooks/wh"})
        self.client.secrets.write(path="py/hooks/wh", data={"v": "1"})
        headers, body = self.next_delivery("py/hooks/wh")
        self.assertTrue(headers["x-scaivault-signature"].startswith("sha256="))
        self.assertTrue(verify_webhook_signature(body, headers["x-scaivault-signature"], secret,
                                                 timestamp=headers["x-scaivault-timestamp"]))
        self.assertFalse(verify_webhook_signature(body + b" ", headers["x-scaivault-signature"], secret,
                                                  timestamp=headers["x-scaivault-timestamp"]))
