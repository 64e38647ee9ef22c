"""Every error code becomes its typed error: real answers from the server for the codes a test can
provoke, and the wire shape of every code in the server's closed list (src/http/errors.ts)."""
import http.server
import os
import re
import threading
import unittest

from scaivault_sdk import ScaiVaultClient
from scaivault_sdk import errors as E
from tests import support


def closed_list() -> dict:
    with open(os.path.join(support.ROOT, "src", "http", "errors.ts"), encoding="utf-8") as handle:
        block = re.search(r"ERROR_STATUS = \{(.*?)\} as const", handle.read(), re.S).group(1)
    return {code: int(status) for code, status in re.findall(r"(\w+): (\d{3})", block)}


EXPECTED_CLASS = {400: E.ValidationError, 401: E.AuthenticationError, 403: E.PermissionDeniedError,
                  404: E.NotFoundError, 405: E.ScaiVaultError, 409: E.ConflictError, 410: E.GoneError,
                  413: E.ValidationError, 415: E.ValidationError, 422: E.ValidationError, 429: E.RateLimitError,
                  500: E.ServerError, 502: E.ServerError, 503: E.ServiceUnavailableError}


class RealServerErrorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = support.shared_server()
        cls.client = ScaiVaultClient(base_url=cls.server.base_url, token=cls.server.admin_token)

    def check(self, call, cls, code: str, status: int) -> E.ScaiVaultError:
        with self.assertRaises(cls) as caught:
            call()
        error = caught.exception
        self.assertEqual((error.code, error.status), (code, status))
        self.assertTrue(error.request_id and error.request_id.startswith("req_"))
        return error

    def test_authentication(self) -> None:
        bad = ScaiVaultClient(base_url=self.server.base_url, token="skt_not-a-real-token")
        self.check(lambda: bad.secrets.read("x/y"), E.AuthenticationError, "token_invalid", 401)

    def test_not_found_family(self) -> None:
        self.check(lambda: self.client.secrets.read("py/err/none"), E.NotFoundError, "secret_not_found", 404)
        self.client.secrets.write(path="py/err/one", data={"a": 1})
        self.check(lambda: self.client.secrets.read("py/err/one", version=7), E.NotFoundError, "version_not_found", 404)

    def test_validation_family(self) -> None:
        self.check(lambda: self.client.secrets.read("py/Bad..Path"), E.ValidationError, "invalid_path", 400)
        self.check(lambda: self.client.secrets.write(path="py/err/t", data={"a": 1}, secret_type="nope"),
                   E.ValidationError, "invalid_secret_type", 400)
        self.check(lambda: self.client.secrets.write(path="py/err/t", data={"a": 1}, expires_in="soon"),
                   E.ValidationError, "invalid_duration", 400)
        error = self.check(lambda: self.client.secrets.write(path="py/err/t", data={"a": 1}, max_versions=0),
                           E.ValidationError, "validation_error", 422)
        self.assertIn("options.max_versions", error.fields)
        self.check(lambda: self.client.secrets.write(path="py/err/big", data={"a": "x" * 70000}),
                   E.ValidationError, "payload_too_large", 413)

    def test_conflicts(self) -> None:
        self.client.secrets.write(path="py/err/soft", data={"a": 1})
        self.client.secrets.delete("py/err/soft")
        self.check(lambda: self.client.secrets.write(path="py/err/soft", data={"a": 2}), E.ConflictError, "secret_exists", 409)


class WireShapeTest(unittest.TestCase):
    """A local listener answering each code of the closed list in the contract's JSON shape."""

    def test_every_code_maps_to_its_class(self) -> None:
        codes = closed_list()
        self.assertGreater(len(codes), 40)

        class Handler(support.JsonHandler):
            def do_GET(self) -> None:  # noqa: N802
                code = self.path.rsplit("/", 1)[-1]
                body = {"error": {"code": code, "message": f"m {code}", "details": {"k": 1}, "request_id": "req_fake"}}
                self.send_json(codes[code], body, {"Retry-After": "7"} if codes[code] in (429, 503) else None)

        listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=listener.serve_forever, daemon=True).start()
        try:
            client = ScaiVaultClient(base_url=f"http://127.0.0.1:{listener.server_port}", token="t", max_attempts=1)
            for code, status in codes.items():
                with self.subTest(code=code):
                    with self.assertRaises(EXPECTED_CLASS[status]) as caught:
                        client._http.request("GET", f"/v1/codes/{code}")
                    error = caught.exception
                    self.assertEqual((error.code, error.status, error.request_id, error.details), (code, status, "req_fake", {"k": 1}))
                    self.assertEqual(error.retry_after, 7 if status in (429, 503) else None)
        finally:
            listener.shutdown()
            listener.server_close()
