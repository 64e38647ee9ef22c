"""The secrets resource against a real server: every call, sync and asyncio."""
import asyncio
import unittest

from scaivault_sdk import (AsyncScaiVaultClient, ConflictError, GoneError, NotFoundError, ScaiVaultClient,
                           SyncScaiVaultClient)
from tests import support


class SecretsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = support.shared_server()
        cls.client = ScaiVaultClient(base_url=cls.server.base_url, token=cls.server.admin_token)

    def test_write_read_versions_and_metadata(self) -> None:
        c = self.client
        created = c.secrets.write(path="py/app/db", data={"password": "one"}, secret_type="kv",
                                  metadata={"tags": ["db"]}, max_versions=5)
        self.assertEqual((created.version, created.secret_type), (1, "kv"))
        self.assertNotIn("data", created)
        c.secrets.write(path="py/app/db", data={"password": "two"})
        secret = c.secrets.read("py/app/db")
        self.assertEqual((secret.data["password"], secret.version, secret.secret_type), ("two", 2, "kv"))
        self.assertEqual(secret.metadata.tags, ["db"])
        self.assertEqual(c.secrets.read("py/app/db", version=1).data, {"password": "one"})
        self.assertEqual(c.secrets.read("py/app/db", version="previous").data, {"password": "one"})
        versions = c.secrets.versions("py/app/db")
        self.assertEqual([(v.version, v.state) for v in versions.versions], [(2, "current"), (1, "previous")])
        meta = c.secrets.read_metadata("py/app/db")
        self.assertEqual((meta.current_version, meta.versions_count), (2, 2))
        updated = c.secrets.update_metadata(path="py/app/db", metadata={"tags": ["db", "prod"], "description": "main db"})
        self.assertEqual(updated.metadata.tags, ["db", "prod"])
        self.assertEqual(c.secrets.read("py/app/db").version, 2)

    def test_list_iterate_batch_and_delete(self) -> None:
        c = self.client
        for name in ("a", "b", "c"):
            c.secrets.write(path=f"py/list/{name}", data={"v": name})
        page = c.secrets.list(prefix="py/list/", limit=2)
        self.assertEqual([s.path for s in page.data], ["py/list/a", "py/list/b"])
        self.assertTrue(page.has_more)
        self.assertEqual([s.path for s in c.secrets.iterate(prefix="py/list/", limit=2)], ["py/list/a", "py/list/b", "py/list/c"])
        batch = c.secrets.batch_read(["py/list/a", "py/list/missing"])
        self.assertEqual(batch.secrets["py/list/a"]["data"], {"v": "a"})
        self.assertEqual(batch.errors["py/list/missing"]["code"], "secret_not_found")
        deleted = c.secrets.delete("py/list/c")
        self.assertTrue(deleted.deleted)
        with self.assertRaises(NotFoundError) as caught:
            c.secrets.read("py/list/c")
        self.assertEqual(caught.exception.code, "secret_not_found")
        self.assertTrue(caught.exception.details.get("deleted"))
        c.secrets.undelete("py/list/c")
        self.assertEqual(c.secrets.read("py/list/c").data, {"v": "c"})
        c.secrets.delete("py/list/c", permanent=True)
        with self.assertRaises(NotFoundError):
            c.secrets.read("py/list/c")

    def test_cas_and_destroy(self) -> None:
        c = self.client
        c.secrets.write(path="py/cas", data={"v": 1}, cas=0)
        with self.assertRaises(ConflictError) as caught:
            c.secrets.write(path="py/cas", data={"v": 2}, cas=0)
        self.assertEqual(caught.exception.code, "version_conflict")
        c.secrets.write(path="py/cas", data={"v": 2}, cas=1)
        c.secrets.destroy("py/cas", [1])
        with self.assertRaises(GoneError) as gone:
            c.secrets.read("py/cas", version=1)
        self.assertEqual((gone.exception.code, gone.exception.status), ("version_destroyed", 410))

    def test_sync_alias_and_asyncio_client(self) -> None:
        self.assertIs(SyncScaiVaultClient, ScaiVaultClient)
        self.client.secrets.write(path="py/async", data={"k": "v"})

        async def scenario() -> tuple:
            async with AsyncScaiVaultClient(base_url=self.server.base_url, token=self.server.admin_token) as client:
                written = await client.secrets.write(path="py/async", data={"k": "w"})
                read = await client.secrets.read("py/async")
                return written.version, read.data["k"]

        self.assertEqual(asyncio.run(scenario()), (2, "w"))
