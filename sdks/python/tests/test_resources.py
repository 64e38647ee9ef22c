"""Policies, tokens, rotation, subscriptions (polling) and audit through the SDK against the real server."""
import unittest

from scaivault_sdk import AuthenticationError, ConflictError, PermissionDeniedError, ScaiVaultClient
from tests import support


class ResourcesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = support.shared_server()
        cls.client = ScaiVaultClient(base_url=cls.server.base_url, token=cls.server.admin_token)

    def test_policies_bindings_and_a_narrow_token(self) -> None:
        c = self.client
        c.secrets.write(path="pyres/db", data={"password": "p"})
        c.secrets.write(path="pyres/other", data={"password": "q"})
        policy = c.policies.create(name="pyres-read", rules=[{"path_pattern": "pyres/db", "permissions": ["read"]}])
        self.assertTrue(policy.id.startswith("pol_"))
        with self.assertRaises(ConflictError):
            c.policies.create(name="pyres-read", rules=[])
        c.policies.bind(policy.id, identity_id="sa:pyres", identity_type="service_account")
        self.assertTrue(c.policies.test(identity_id="sa:pyres", path="pyres/db", permission="read").allowed)
        issued = c.tokens.create(identity_id="sa:pyres", identity_type="service_account", scopes=["secrets:read"])
        service = ScaiVaultClient(base_url=self.server.base_url, token=issued.token)
        self.assertEqual(service.secrets.read("pyres/db").data["password"], "p")
        self.assertEqual(service.auth.whoami().identity_id, "sa:pyres")
        with self.assertRaises(PermissionDeniedError) as denied:
            service.secrets.read("pyres/other")
        self.assertEqual(denied.exception.code, "access_denied")
        with self.assertRaises(PermissionDeniedError) as scope:
            service.secrets.write(path="pyres/db", data={"password": "x"})
        self.assertEqual(scope.exception.code, "insufficient_scope")
        c.tokens.revoke(issued.id)
        with self.assertRaises(AuthenticationError) as revoked:
            service.secrets.read("pyres/db")
        self.assertEqual(revoked.exception.code, "token_revoked")
        with self.assertRaises(ConflictError):
            c.policies.delete(policy.id)
        c.policies.delete(policy.id, force=True)

    def test_rotation_policy_assign_and_rotate(self) -> None:
        c = self.client
        c.secrets.write(path="pyres/rot", data={"client_id": "a"})
        policy = c.rotation.create_policy(name="py-quarterly", interval="90d", grace_period="48h", auto_generate=False)
        c.rotation.assign(policy.id, "pyres/rot")
        result = c.secrets.rotate("pyres/rot")
        self.assertEqual((result.path, result.rotation_policy_id, result.action), ("pyres/rot", policy.id, "due"))
        self.assertIn(policy.id, [p.id for p in c.rotation.list_policies().data])

    def test_polling_subscription_and_audit(self) -> None:
        c = self.client
        sub = c.subscriptions.create(name="py-poll", paths=["pypoll/**"], events=["secret.*"], delivery={"type": "polling"})
        c.secrets.write(path="pypoll/a", data={"v": 1})
        polled = c.subscriptions.poll(sub.id, timeout=5)
        self.assertIn(("secret.created", "pypoll/a"), [(e.event_type, e.path) for e in polled.events])
        c.subscriptions.ack(sub.id, [e.event_id for e in polled.events])
        logs = c.audit.logs(path_prefix="pypoll/", limit=10)
        self.assertTrue(any(entry.action == "write" and entry.secret_path == "pypoll/a" for entry in logs.data))
        self.assertTrue(c.audit.verify().ok)
