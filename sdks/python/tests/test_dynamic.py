"""dynamic.creds / renew / revoke through the SDK against the real server and the local Redis (ACL users)."""
import queue
import secrets as pysecrets
import subprocess
import time
import unittest

from scaivault_sdk import GoneError, ScaiVaultClient
from tests import support


def redis_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "--no-auth-warning", *args], capture_output=True, text=True, timeout=20)


class DynamicTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = support.shared_server()
        try:
            if redis_cli("PING").stdout.strip() != "PONG":
                raise unittest.SkipTest("no local Redis on 6379")
        except FileNotFoundError:
            raise unittest.SkipTest("redis-cli is not installed")
        cls.root_user = "pysdk_root_" + pysecrets.token_hex(4)
        cls.root_password = "Py" + pysecrets.token_hex(12) + "9"
        redis_cli("ACL", "SETUSER", cls.root_user, "reset", "on", ">" + cls.root_password, "~*", "&*", "+@all")
        cls.client = ScaiVaultClient(base_url=cls.server.base_url, token=cls.server.admin_token)

    @classmethod
    def tearDownClass(cls) -> None:
        redis_cli("ACL", "DELUSER", cls.root_user)

    def test_creds_renew_revoke(self) -> None:
        c = self.client
        c.secrets.write(path="pysdk/redis/root", data={"username": self.root_user, "password": self.root_password}, secret_type="json")
        policy = c.policies.create(name="pysdk-engine-root", rules=[{"path_pattern": "pysdk/redis/root", "permissions": ["read"]}])
        c.policies.bind(policy.id, identity_id="dynamic:pysdk-cache", identity_type="system")
        c.dynamic.create_engine(name="pysdk-cache", type="database.redis",
                                config={"connection_url": "redis://{{username}}:{{password}}@127.0.0.1:6379/0", "root_credentials_path": "pysdk/redis/root"},
                                default_ttl="10m", max_ttl="20m")
        c.dynamic.create_role("pysdk-cache", name="reader", creation_statements=["~pysdk:*", "+get"])

        lease = c.dynamic.creds("pysdk-cache", "reader", ttl="5m")
        self.assertTrue(lease.lease_id.startswith("lease_"))
        username, password = lease.data["username"], lease.data["password"]
        auth = redis_cli("--user", username, "--pass", password, "GET", "pysdk:x")
        self.assertNotIn("WRONGPASS", auth.stderr)

        renewed = c.dynamic.renew(lease.lease_id, increment="1h")
        self.assertEqual(renewed.expires_at, renewed.max_expires_at)
        self.assertFalse(renewed.renewable)
        self.assertEqual(c.dynamic.lease(lease.lease_id).state, "active")

        revoked = c.dynamic.revoke(lease.lease_id)
        self.assertEqual(revoked.state, "revoked")
        self.assertIn("WRONGPASS", redis_cli("--user", username, "--pass", password, "GET", "pysdk:x").stderr)
        with self.assertRaises(GoneError) as gone:
            c.dynamic.renew(lease.lease_id)
        self.assertEqual(gone.exception.code, "lease_revoked")
        self.assertIn(lease.lease_id, [l["lease_id"] for l in c.dynamic.leases(engine="pysdk-cache").data])

    def test_keep_renewed(self) -> None:
        """Renews before each end until max_ttl, then says so; stopped, it renews nothing."""
        c = self.client
        c.secrets.write(path="pysdk/redis/short-root", data={"username": self.root_user, "password": self.root_password}, secret_type="json")
        policy = c.policies.create(name="pysdk-short-root", rules=[{"path_pattern": "pysdk/redis/short-root", "permissions": ["read"]}])
        c.policies.bind(policy.id, identity_id="dynamic:pysdk-short", identity_type="system")
        c.dynamic.create_engine(name="pysdk-short", type="database.redis",
                                config={"connection_url": "redis://{{username}}:{{password}}@127.0.0.1:6379/0", "root_credentials_path": "pysdk/redis/short-root"})
        # Renewed by 4 s at a time, never past 10 s.
        c.dynamic.create_role("pysdk-short", name="short", creation_statements=["~pysdk:*", "+get"], default_ttl="4s", max_ttl="10s")

        lease = c.dynamic.creds("pysdk-short", "short")
        renewals: list = []
        ended: "queue.Queue" = queue.Queue()
        c.dynamic.keep_renewed(lease, on_renew=renewals.append, on_end=ended.put, fraction=0.25)
        reason = ended.get(timeout=60)  # a hang detector: the 10 s max comes after a few renewals
        self.assertEqual(reason, "max_ttl")
        self.assertGreaterEqual(len(renewals), 2)
        self.assertGreater(renewals[0].expires_at, lease.expires_at)
        last = renewals[-1]
        self.assertFalse(last.renewable)
        self.assertEqual(last.expires_at, last.max_expires_at)
        self.assertEqual(c.dynamic.lease(lease.lease_id).state, "active")
        self.assertNotIn("WRONGPASS", redis_cli("--user", lease.data["username"], "--pass", lease.data["password"], "GET", "pysdk:x").stderr)
        c.dynamic.revoke(lease.lease_id)

        stopped = c.dynamic.creds("pysdk-short", "short")
        after_stop: list = []
        stop = c.dynamic.keep_renewed(stopped, on_renew=after_stop.append, fraction=0.25)
        stop()
        deadline = time.time() + 60
        while c.dynamic.lease(stopped.lease_id).state != "expired":
            self.assertLess(time.time(), deadline, "the lease did not expire")
            time.sleep(0.2)
        self.assertEqual(after_stop, [])
        self.assertIsNone(c.dynamic.lease(stopped.lease_id).last_renewed_at)
