"""client_id/client_secret: exchanged at a (local, fake) ScaiKey token endpoint, reused, refused loudly."""
import http.server
import threading
import unittest
import urllib.parse

from scaivault_sdk import AuthenticationError, ScaiVaultClient
from tests import support


class CredentialsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = support.shared_server()
        # The fake ScaiKey hands out a vault token for the service account: the SDK treats it as opaque.
        status, issued = cls.server.call("POST", "/v1/auth/tokens", {"identity_id": "sa:py-cc", "identity_type": "service_account"})
        assert status == 201, issued
        calls = cls.calls = []

        class TokenEndpoint(support.JsonHandler):
            def do_POST(self) -> None:  # noqa: N802
                form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                calls.append(form)
                ok = form.get("grant_type") == ["client_credentials"] and form.get("client_id") == ["py-cc"] \
                    and form.get("client_secret") == ["cs_right"]
                self.send_json(200 if ok else 401, {"access_token": issued["token"], "token_type": "Bearer", "expires_in": 3600}
                               if ok else {"error": "invalid_client"})

        cls.endpoint = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
        threading.Thread(target=cls.endpoint.serve_forever, daemon=True).start()
        cls.token_url = f"http://127.0.0.1:{cls.endpoint.server_port}/oauth/token"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.endpoint.shutdown()
        cls.endpoint.server_close()

    def test_exchanges_once_and_reuses_the_token(self) -> None:
        before = len(self.calls)
        client = ScaiVaultClient(base_url=self.server.base_url, client_id="py-cc", client_secret="cs_right",
                                 token_url=self.token_url, scopes=["secrets:read"])
        self.assertEqual(client.auth.whoami().identity_id, "sa:py-cc")
        client.auth.whoami()
        self.assertEqual(len(self.calls) - before, 1)
        self.assertEqual(self.calls[-1]["scope"], ["secrets:read"])

    def test_a_refused_exchange_raises_without_the_secret(self) -> None:
        client = ScaiVaultClient(base_url=self.server.base_url, client_id="py-cc", client_secret="cs_wrong_value",
                                 token_url=self.token_url)
        with self.assertRaises(AuthenticationError) as caught:
            client.secrets.read("a/b")
        self.assertNotIn("cs_wrong_value", str(caught.exception))
