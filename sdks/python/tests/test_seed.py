"""Seed step 3: the Python snippet, exactly as written with only the base URL changed, prints the client id."""
import os
import re
import subprocess
import sys
import unittest

from tests import support

SEED_STEP_3 = '''import os
from scaivault_sdk import ScaiVaultClient

client = ScaiVaultClient(
    base_url="https://scaivault.scailabs.ai",
    token=os.environ["SCAIVAULT_TOKEN"],
)

secret = client.secrets.read("integrations/salesforce/oauth")
sf = SalesforceClient(
    client_id=secret.data["client_id"],
    client_secret=secret.data["client_secret"],
)
'''
# From the walk-through's starting point: the third-party client the snippet hands the values to.
STARTING_POINT_IMPORT = "from salesforce_client import SalesforceClient\n"
SEED_FILE = os.path.join(support.ROOT, "..", "shared", "seed", "your-first-integration.md")


class SeedStep3Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = support.shared_server()
        status, _ = cls.server.call("PUT", "/v1/secrets/integrations/salesforce/oauth", {
            "data": {"client_id": "3MVG9...", "client_secret": "REDACTED"},
            "secret_type": "json",
            "metadata": {"description": "Salesforce OAuth for all production integrations",
                         "tags": ["salesforce", "oauth", "production"]},
            "options": {"max_versions": 10},
        })
        assert status in (200, 201), status

    def test_snippet_is_the_seed_verbatim(self) -> None:
        if not os.path.exists(SEED_FILE):
            # A clone used on its own has no shared/ beside it; CI always lays it there.
            if os.environ.get("CI"):
                self.fail(f"the seed walk-through is missing under CI: {SEED_FILE}")
            self.skipTest("the seed walk-through is not beside this checkout (shared/ is laid beside it in CI)")
        with open(SEED_FILE, encoding="utf-8") as handle:
            blocks = re.findall(r"```python\n(.*?)```", handle.read(), re.S)
        self.assertIn(SEED_STEP_3, blocks)

    def run_snippet(self, token: str) -> subprocess.CompletedProcess:
        program = STARTING_POINT_IMPORT + SEED_STEP_3.replace("https://scaivault.scailabs.ai", self.server.base_url) \
            + 'print(sf.client_id)\n'
        self.assertEqual(program.count(self.server.base_url), 1)
        env = {**os.environ, "SCAIVAULT_TOKEN": token,
               "PYTHONPATH": os.pathsep.join([support.SDK_DIR, os.path.join(os.path.dirname(__file__), "fakes")])}
        return subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60)

    def test_prints_the_client_id_with_the_admin_token(self) -> None:
        done = self.run_snippet(self.server.admin_token)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "3MVG9...\n")

    def test_prints_the_client_id_as_the_bound_service_account(self) -> None:
        status, policy = self.server.call("POST", "/v1/policies", {
            "name": "reporting-service-salesforce", "description": "Reporting service reads Salesforce OAuth",
            "rules": [{"path_pattern": "integrations/salesforce/oauth", "permissions": ["read"]}]})
        self.assertEqual(status, 201, policy)
        status, binding = self.server.call("POST", f"/v1/policies/{policy['id']}/bindings", {
            "identity_type": "service_account", "identity_id": "sa:reporting-service"})
        self.assertEqual(status, 201, binding)
        status, token = self.server.call("POST", "/v1/auth/tokens", {
            "identity_id": "sa:reporting-service", "identity_type": "service_account", "scopes": ["secrets:read"]})
        self.assertEqual(status, 201, token)
        done = self.run_snippet(token["token"])
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "3MVG9...\n")
