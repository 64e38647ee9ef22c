"""The identity cache, syncs and roles (``/v1/identity/*``), token-exchange trusts (``/v1/auth/trusts``)
and ``exchange_token`` (``POST /v1/auth/exchange``, which takes no bearer)."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Optional, Union

from .errors import NetworkError, error_for
from .models import ApiObject
from .resources import _q, _Resource

Body = dict[str, Any]
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"


class IdentityResource(_Resource):
    def partners(self, **query: Any) -> ApiObject:
        return ApiObject(self._get("/v1/identity/partners", **query))

    def users(self, tenant_id: str, **query: Any) -> ApiObject:
        return ApiObject(self._get(f"/v1/identity/tenants/{_q(tenant_id)}/users", **query))

    def groups(self, tenant_id: str, **query: Any) -> ApiObject:
        return ApiObject(self._get(f"/v1/identity/tenants/{_q(tenant_id)}/groups", **query))

    def service_accounts(self, tenant_id: str, **query: Any) -> ApiObject:
        return ApiObject(self._get(f"/v1/identity/tenants/{_q(tenant_id)}/service-accounts", **query))

    def group_members(self, group_id: str, **query: Any) -> ApiObject:
        return ApiObject(self._get(f"/v1/identity/groups/{_q(group_id)}/members", **query))

    def resolve(self, identity_type: str, identity_id: str) -> ApiObject:
        return ApiObject(self._get(f"/v1/identity/resolve/{_q(identity_type)}/{_q(identity_id)}"))

    def sync(self, partner_id: Optional[str] = None, tenant_id: Optional[str] = None) -> ApiObject:
        return ApiObject(self._http.request("POST", "/v1/identity/sync", query={"partner_id": partner_id, "tenant_id": tenant_id}, body={}) or {})

    def get_sync(self, sync_id: str) -> ApiObject:
        return ApiObject(self._get(f"/v1/identity/sync/{_q(sync_id)}"))

    def sync_history(self, **query: Any) -> ApiObject:
        return ApiObject(self._get("/v1/identity/sync/history", **query))

    def roles(self) -> ApiObject:
        return ApiObject(self._get("/v1/identity/roles"))

    def user_roles(self, user_id: str) -> ApiObject:
        return ApiObject(self._get(f"/v1/identity/users/{_q(user_id)}/roles"))

    def set_user_roles(self, user_id: str, roles: list[str]) -> ApiObject:
        return self._put(f"/v1/identity/users/{_q(user_id)}/roles", {"roles": roles})


class TrustsResource(_Resource):
    def create(self, **trust: Any) -> ApiObject:
        return self._post("/v1/auth/trusts", trust)

    def list(self, **query: Any) -> ApiObject:
        return ApiObject(self._get("/v1/auth/trusts", **query))

    def get(self, trust_id: str) -> ApiObject:
        return ApiObject(self._get(f"/v1/auth/trusts/{_q(trust_id)}"))

    def update(self, trust_id: str, **patch: Any) -> ApiObject:
        return self._patch(f"/v1/auth/trusts/{_q(trust_id)}", patch)

    def delete(self, trust_id: str) -> ApiObject:
        return self._delete(f"/v1/auth/trusts/{_q(trust_id)}")


def exchange_token(base_url: str, subject_token: str, tenant_id: Optional[str] = None, role: Optional[str] = None,
                   scope: Optional[list[str]] = None, expires_in: Optional[Union[int, str]] = None,
                   allowed_paths: Optional[list[str]] = None, timeout: float = 30.0) -> ApiObject:
    """Trades a workload token (GitHub Actions OIDC, a Kubernetes service-account token) for a short-lived
    ``skt_`` token: ``ScaiVaultClient(base_url, token=result.access_token)``."""
    body: Body = {"grant_type": GRANT, "subject_token": subject_token}
    for key, value in (("tenant_id", tenant_id), ("role", role), ("expires_in", expires_in), ("allowed_paths", allowed_paths)):
        if value is not None:
            body[key] = value
    if scope is not None:
        body["scope"] = " ".join(scope)
    request = urllib.request.Request(base_url.rstrip("/") + "/v1/auth/exchange", data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json", "accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the caller's ScaiVault URL)
            return ApiObject(json.loads(response.read().decode("utf-8")))
    except urllib.error.HTTPError as failure:
        try:
            wire = json.loads(failure.read().decode("utf-8")).get("error", {})
        except ValueError:
            wire = {}
        raise error_for(wire.get("code", f"http_{failure.code}"), wire.get("message", f"HTTP {failure.code}"), failure.code,
                        wire.get("request_id"), wire.get("details")) from None
    except (urllib.error.URLError, OSError) as failure:
        raise NetworkError("network_error", f"request to ScaiVault failed: {failure}", 0) from None
