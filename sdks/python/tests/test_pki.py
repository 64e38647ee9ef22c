"""PKI through the Python SDK against the real server: create CAs, issue, revoke; openssl verifies."""
import os
import subprocess
import tempfile
import unittest

from scaivault_sdk import NotFoundError, ScaiVaultClient
from tests import support


class PkiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = support.shared_server()
        cls.client = ScaiVaultClient(base_url=cls.server.base_url, token=cls.server.admin_token)

    def test_create_ca_issue_and_revoke(self) -> None:
        c = self.client
        root = c.pki.create_ca(name="py-root", common_name="Py Root", ca_type="root", key_type="ec")
        inter = c.pki.create_ca(name="py-int", common_name="Py Int", ca_type="intermediate", parent_ca_id=root.id, key_type="ec")
        self.assertEqual(inter.parent_ca_id, root.id)
        self.assertIn("py-int", [ca.name for ca in c.pki.list_cas()])
        status, _ = self.server.call("POST", "/v1/pki/roles", {"name": "py", "ca_id": inter.id, "allowed_domains": ["py.internal"],
                                                               "allow_subdomains": True, "key_type": "ec"})
        self.assertEqual(status, 201)
        issued = c.pki.issue("py", common_name="a.py.internal", ttl="1h")
        self.assertIn("BEGIN PRIVATE KEY", issued.private_key)
        _, root_cert = self.server.call("GET", f"/v1/pki/ca/{root.id}/certificate")
        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for name, pem in (("root", root_cert["certificate_pem"]), ("int", issued.ca_chain[0]), ("leaf", issued.certificate)):
                paths[name] = os.path.join(tmp, f"{name}.pem")
                with open(paths[name], "w") as f:
                    f.write(pem)
            verified = subprocess.run(["openssl", "verify", "-CAfile", paths["root"], "-untrusted", paths["int"], paths["leaf"]],
                                      capture_output=True, text=True)
            self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)
        revoked = c.pki.revoke(issued.id, reason="superseded")
        self.assertEqual(revoked.revocation_reason, "superseded")
        self.assertIsNotNone(c.pki.get_certificate(issued.serial_number).revoked_at)
        with self.assertRaises(NotFoundError):
            c.pki.get_ca("ca_missing")
