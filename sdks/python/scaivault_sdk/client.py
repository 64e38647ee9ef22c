"""The synchronous client the seed uses, and the asyncio one."""
from __future__ import annotations

import asyncio
import functools
from typing import Any, Optional

from .dynamic import DynamicResource
from .identity import IdentityResource, TrustsResource
from ._transport import Transport
from .cache import EventStreamThread, SecretCache
from .resources import (AuditResource, AuthResource, PoliciesResource, RotationResource, SecretPoliciesResource,
                        SubscriptionsResource, SystemResource, TenantsResource, TokensResource, WebhooksResource)
from .pki import PkiResource
from .secrets import SecretsResource


class ScaiVaultClient:
    """``ScaiVaultClient(base_url=…, token=…)`` or ``(base_url=…, client_id=…, client_secret=…)``.

    ``cache_ttl`` (seconds) turns on a read cache that a background thread following the event
    stream invalidates the moment a value changes (the TTL bounds staleness while the stream is down).
    ``max_attempts`` bounds retries of ``rate_limited``, ``service_unavailable`` and network errors,
    waiting ``Retry-After``; non-idempotent writes without ``cas`` are not repeated after a 503.
    """

    def __init__(self, base_url: str, token: Optional[str] = None, client_id: Optional[str] = None,
                 client_secret: Optional[str] = None, *, token_url: Optional[str] = None,
                 scopes: Optional[list[str]] = None, tenant_id: Optional[str] = None, timeout: float = 30.0,
                 max_attempts: int = 3, max_retry_delay: float = 30.0, cache_ttl: Optional[float] = None,
                 ca_cert: Optional[str] = None, verify: bool = True) -> None:
        self._http = Transport(base_url, token=token, client_id=client_id, client_secret=client_secret,
                               token_url=token_url, scopes=scopes, tenant_id=tenant_id, timeout=timeout,
                               max_attempts=max_attempts, max_delay=max_retry_delay, ca_cert=ca_cert, verify=verify)
        self._cache = SecretCache(cache_ttl) if cache_ttl else None
        self.secrets = SecretsResource(self._http, self._cache)
        self.policies = PoliciesResource(self._http)
        self.rotation = RotationResource(self._http)
        self.secret_policies = SecretPoliciesResource(self._http)
        self.webhooks = WebhooksResource(self._http)
        self.subscriptions = SubscriptionsResource(self._http)
        self.audit = AuditResource(self._http)
        self.tokens = TokensResource(self._http)
        self.auth = AuthResource(self._http)
        self.tenants = TenantsResource(self._http)
        self.system = SystemResource(self._http)
        self.dynamic = DynamicResource(self._http)
        self.pki = PkiResource(self._http)
        self.identity = IdentityResource(self._http)
        self.trusts = TrustsResource(self._http)
        self._stream: Optional[EventStreamThread] = None
        if self._cache is not None:
            cache = self._cache

            def on_event(event: dict[str, Any]) -> None:
                if event.get("path"):
                    cache.invalidate(event["path"])

            def on_open(resumed: bool) -> None:
                # A fresh connection may follow missed events: start over.
                if not resumed:
                    cache.clear()

            self._stream = EventStreamThread(self._http, on_event, on_open)
            self._stream.start()

    @property
    def cache_stream_connected(self) -> bool:
        return self._stream is not None and self._stream.connected.is_set()

    def wait_for_cache_stream(self, timeout: float = 5.0) -> bool:
        return self._stream is not None and self._stream.connected.wait(timeout)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.join(timeout=5)
            self._stream = None
        if self._cache is not None:
            self._cache.clear()

    def __enter__(self) -> "ScaiVaultClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


SyncScaiVaultClient = ScaiVaultClient


class _AsyncProxy:
    """Runs a sync resource's methods in a worker thread so they can be awaited."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(attribute, *args, **kwargs)

        return call


class AsyncScaiVaultClient:
    """The asyncio client: same resources and methods as ``ScaiVaultClient``, awaited.
    ``async with AsyncScaiVaultClient(base_url=…, token=…) as client: await client.secrets.read(…)``"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._sync = ScaiVaultClient(*args, **kwargs)
        for name in ("secrets", "policies", "rotation", "secret_policies", "webhooks", "subscriptions", "audit",
                     "tokens", "auth", "tenants", "system", "pki"):
            setattr(self, name, _AsyncProxy(getattr(self._sync, name)))

    async def close(self) -> None:
        await asyncio.to_thread(self._sync.close)

    async def __aenter__(self) -> "AsyncScaiVaultClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
