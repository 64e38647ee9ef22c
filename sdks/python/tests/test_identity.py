"""Identity calls, token exchange and personal tokens through the SDK against the real server. The workload
token is signed with the openssl command line (the SDK itself stays standard library only)."""
import base64
import json
import os
import subprocess
import tempfile
import time
import unittest

from scaivault_sdk import AuthenticationError, PermissionDeniedError, ScaiVaultClient, exchange_token
from tests import support

ISSUER = "https://issuer.pytest.example"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class LocalSigner:
    """An RSA key made and used by openssl: its JWK, and RS256 tokens signed with it."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="py-issuer-")
        self.key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "genrsa", "-out", self.key, "2048"], check=True, capture_output=True)
        modulus = subprocess.run(["openssl", "rsa", "-in", self.key, "-noout", "-modulus"], check=True, capture_output=True, text=True).stdout
        n = bytes.fromhex(modulus.strip().split("=", 1)[1])
        self.jwk = {"kty": "RSA", "n": b64(n), "e": "AQAB", "kid": "py1", "alg": "RS256", "use": "sig"}

    def sign(self, claims: dict) -> str:
        head = b64(json.dumps({"alg": "RS256", "kid": "py1", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=head.encode(), check=True, capture_output=True).stdout
        return head + "." + b64(signature)


class IdentityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = support.shared_server()
        cls.client = ScaiVaultClient(base_url=cls.server.base_url, token=cls.server.admin_token)
        cls.signer = LocalSigner()

    def test_trust_exchange_and_revocation(self) -> None:
        trust = self.client.trusts.create(name="py-ci", issuer=ISSUER, audiences=["scaivault"], jwks={"keys": [self.signer.jwk]},
                                          rules=[{"conditions": {"sub": "job:deploy"}, "identity_id": "sa:py-ci", "scopes": ["secrets:read"]}])
        self.assertTrue(trust.id.startswith("trust_"))
        now = int(time.time())
        jwt = self.signer.sign({"iss": ISSUER, "aud": "scaivault", "sub": "job:deploy", "iat": now, "exp": now + 300})
        result = exchange_token(self.server.base_url, jwt, expires_in="2m")
        self.assertEqual((result.identity_id, result.expires_in), ("sa:py-ci", 120))
        workload = ScaiVaultClient(base_url=self.server.base_url, token=result.access_token)
        self.assertEqual(workload.auth.whoami().identity_id, "sa:py-ci")
        with self.assertRaises(PermissionDeniedError) as denied:
            exchange_token(self.server.base_url, self.signer.sign({"iss": ISSUER, "aud": "scaivault", "sub": "job:other", "iat": now, "exp": now + 300}))
        self.assertEqual(denied.exception.details.get("reason"), "no_matching_rule")
        with self.assertRaises(AuthenticationError) as expired:
            exchange_token(self.server.base_url, self.signer.sign({"iss": ISSUER, "aud": "scaivault", "sub": "job:deploy", "iat": now - 600, "exp": now - 300}))
        self.assertEqual(expired.exception.code, "token_expired")
        self.client.trusts.delete(trust.id)
        with self.assertRaises(AuthenticationError) as revoked:
            workload.auth.whoami()
        self.assertEqual(revoked.exception.code, "token_revoked")

    def test_personal_token_and_identity_reads(self) -> None:
        # Personal tokens are for users: the bootstrap admin (system:bootstrap) issues a user a token first.
        status, issued = self.server.call("POST", "/v1/auth/tokens", {"identity_id": "user:py-person", "identity_type": "user", "scopes": ["secrets:read", "secrets:list"]})
        self.assertEqual(status, 201, issued)
        person = ScaiVaultClient(base_url=self.server.base_url, token=issued["token"])
        personal = person.tokens.create(scopes=["secrets:read"])
        self.assertEqual((personal.kind, personal.identity_id), ("personal", "user:py-person"))
        self.assertEqual([r["name"] for r in self.client.identity.roles().roles], ["tenant_admin", "partner_admin", "super_admin"])
        self.assertEqual(self.client.identity.users("tnt_default").total, 0)
