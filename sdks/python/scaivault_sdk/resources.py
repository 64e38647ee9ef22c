"""Management resources: policies, rotation, secret policies, webhooks, subscriptions, audit, tokens,
auth, tenants, system. POST creates are never repeated after a 503 or a lost connection."""
from __future__ import annotations

import urllib.parse
from typing import Any, Optional

from ._transport import Transport
from .models import ApiObject, Page
from .secrets import secret_path as to_path

Body = dict[str, Any]


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _page(answer: Any, key: str) -> Page:
    answer = answer or {}
    return Page({"data": answer.get(key, answer.get("data", [])), "cursor": answer.get("cursor"),
                 "has_more": bool(answer.get("has_more"))})


class _Resource:
    def __init__(self, http: Transport) -> None:
        self._http = http

    def _get(self, path: str, **query: Any) -> Any:
        return self._http.request("GET", path, query=query)

    def _post(self, path: str, body: Optional[Body] = None, idempotent: bool = False) -> ApiObject:
        return ApiObject(self._http.request("POST", path, body=body if body is not None else {}, idempotent=idempotent) or {})

    def _put(self, path: str, body: Body) -> ApiObject:
        return ApiObject(self._http.request("PUT", path, body=body, idempotent=True) or {})

    def _patch(self, path: str, body: Body) -> ApiObject:
        return ApiObject(self._http.request("PATCH", path, body=body, idempotent=True) or {})

    def _delete(self, path: str, **query: Any) -> ApiObject:
        return ApiObject(self._http.request("DELETE", path, query=query, idempotent=True) or {})


class PoliciesResource(_Resource):
    def create(self, name: str, rules: list[Body], description: Optional[str] = None, scope: Optional[str] = None, **extra: Any) -> ApiObject:
        body: Body = {"name": name, "rules": rules, **extra}
        if description is not None:
            body["description"] = description
        if scope is not None:
            body["scope"] = scope
        return self._post("/v1/policies", body)

    def list(self, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page:
        return _page(self._get("/v1/policies", limit=limit, cursor=cursor), "policies")

    def get(self, policy_id: str) -> ApiObject:
        return ApiObject(self._get(f"/v1/policies/{_q(policy_id)}"))

    def replace(self, policy_id: str, policy: Body) -> ApiObject:
        return self._put(f"/v1/policies/{_q(policy_id)}", policy)

    def update(self, policy_id: str, **changes: Any) -> ApiObject:
        return self._patch(f"/v1/policies/{_q(policy_id)}", changes)

    def delete(self, policy_id: str, force: bool = False) -> ApiObject:
        return self._delete(f"/v1/policies/{_q(policy_id)}", force=True if force else None)

    def bindings(self, policy_id: str) -> Page:
        return _page(self._get(f"/v1/policies/{_q(policy_id)}/bindings"), "bindings")

    def bind(self, policy_id: str, identity_id: str, identity_type: str, expires_at: Optional[str] = None) -> ApiObject:
        body: Body = {"identity_id": identity_id, "identity_type": identity_type}
        if expires_at is not None:
            body["expires_at"] = expires_at
        return self._post(f"/v1/policies/{_q(policy_id)}/bindings", body)

    def unbind(self, policy_id: str, binding_id: str) -> ApiObject:
        return self._delete(f"/v1/policies/{_q(policy_id)}/bindings/{_q(binding_id)}")

    def test(self, identity_id: str, path: str, permission: str, context: Optional[Body] = None) -> ApiObject:
        body: Body = {"identity_id": identity_id, "path": path, "permission": permission}
        if context is not None:
            body["context"] = context
        return self._post("/v1/policies/test", body, idempotent=True)


class RotationResource(_Resource):
    def create_policy(self, name: str, interval: str, **fields: Any) -> ApiObject:
        return self._post("/v1/rotation/policies", {"name": name, "interval": interval, **fields})

    def list_policies(self, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page:
        return _page(self._get("/v1/rotation/policies", limit=limit, cursor=cursor), "data")

    def get_policy(self, policy_id: str) -> ApiObject:
        return ApiObject(self._get(f"/v1/rotation/policies/{_q(policy_id)}"))

    def update_policy(self, policy_id: str, **changes: Any) -> ApiObject:
        return self._patch(f"/v1/rotation/policies/{_q(policy_id)}", changes)

    def delete_policy(self, policy_id: str) -> ApiObject:
        return self._delete(f"/v1/rotation/policies/{_q(policy_id)}")

    def enable(self, policy_id: str) -> ApiObject:
        return self._post(f"/v1/rotation/policies/{_q(policy_id)}/enable", idempotent=True)

    def disable(self, policy_id: str) -> ApiObject:
        return self._post(f"/v1/rotation/policies/{_q(policy_id)}/disable", idempotent=True)

    def assign(self, policy_id: str, secret_path: str) -> ApiObject:
        return self._post(f"/v1/rotation/policies/{_q(policy_id)}/secrets", {"secret_path": secret_path})

    def unassign(self, policy_id: str, secret_path: str) -> ApiObject:
        return self._delete(f"/v1/rotation/policies/{_q(policy_id)}/secrets/{to_path(secret_path)}")

    def rotate(self, policy_id: str, secret_paths: Optional[list[str]] = None) -> ApiObject:
        return self._post(f"/v1/rotation/policies/{_q(policy_id)}/rotate", {"secret_paths": secret_paths} if secret_paths else {})

    def history(self, policy_id: str, status: Optional[str] = None, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page:
        return _page(self._get(f"/v1/rotation/policies/{_q(policy_id)}/history", status=status, limit=limit, cursor=cursor), "data")

    def due(self, within_hours: Optional[int] = None, include_overdue: Optional[bool] = None) -> ApiObject:
        return ApiObject(self._get("/v1/rotation/due", within_hours=within_hours, include_overdue=include_overdue))


class SecretPoliciesResource(_Resource):
    def create(self, name: str, fields: list[Body], **extra: Any) -> ApiObject:
        return self._post("/v1/secret-policies", {"name": name, "fields": fields, **extra})

    def list(self, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page:
        return _page(self._get("/v1/secret-policies", limit=limit, cursor=cursor), "data")

    def get(self, policy_id: str) -> ApiObject:
        return ApiObject(self._get(f"/v1/secret-policies/{_q(policy_id)}"))

    def update(self, policy_id: str, **changes: Any) -> ApiObject:
        return self._patch(f"/v1/secret-policies/{_q(policy_id)}", changes)

    def delete(self, policy_id: str) -> ApiObject:
        return self._delete(f"/v1/secret-policies/{_q(policy_id)}")

    def preview(self, policy_id: str) -> ApiObject:
        return self._post(f"/v1/secret-policies/{_q(policy_id)}/preview", idempotent=True)


class WebhooksResource(_Resource):
    def create(self, name: str, url: str, secret: str, events: Optional[list[str]] = None, **extra: Any) -> ApiObject:
        body: Body = {"name": name, "url": url, "secret": secret, **extra}
        if events is not None:
            body["events"] = events
        return self._post("/v1/webhooks", body)

    def list(self, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page:
        return _page(self._get("/v1/webhooks", limit=limit, cursor=cursor), "webhooks")

    def get(self, webhook_id: str) -> ApiObject:
        return ApiObject(self._get(f"/v1/webhooks/{_q(webhook_id)}"))

    def update(self, webhook_id: str, **changes: Any) -> ApiObject:
        return self._patch(f"/v1/webhooks/{_q(webhook_id)}", changes)

    def delete(self, webhook_id: str) -> ApiObject:
        return self._delete(f"/v1/webhooks/{_q(webhook_id)}")

    def test(self, webhook_id: str) -> ApiObject:
        return self._post(f"/v1/webhooks/{_q(webhook_id)}/test")

    def deliveries(self, webhook_id: str, status: Optional[str] = None, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page:
        return _page(self._get(f"/v1/webhooks/{_q(webhook_id)}/deliveries", status=status, limit=limit, cursor=cursor), "deliveries")

    def redeliver(self, webhook_id: str, delivery_id: str) -> ApiObject:
        return self._post(f"/v1/webhooks/{_q(webhook_id)}/deliveries/{_q(delivery_id)}/redeliver")


class SubscriptionsResource(_Resource):
    def create(self, name: str, paths: list[str], events: list[str], delivery: Body, **extra: Any) -> ApiObject:
        return self._post("/v1/subscriptions", {"name": name, "paths": paths, "events": events, "delivery": delivery, **extra})

    def list(self, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page:
        return _page(self._get("/v1/subscriptions", limit=limit, cursor=cursor), "data")

    def get(self, subscription_id: str) -> ApiObject:
        return ApiObject(self._get(f"/v1/subscriptions/{_q(subscription_id)}"))

    def update(self, subscription_id: str, **changes: Any) -> ApiObject:
        return self._patch(f"/v1/subscriptions/{_q(subscription_id)}", changes)

    def delete(self, subscription_id: str) -> ApiObject:
        return self._delete(f"/v1/subscriptions/{_q(subscription_id)}")

    def poll(self, subscription_id: str, timeout: Optional[int] = None, since_event_id: Optional[str] = None,
             max_events: Optional[int] = None) -> ApiObject:
        return ApiObject(self._get(f"/v1/subscriptions/{_q(subscription_id)}/poll", timeout=timeout,
                                   since_event_id=since_event_id, max_events=max_events))

    def ack(self, subscription_id: str, event_ids: list[str]) -> ApiObject:
        return self._post(f"/v1/subscriptions/{_q(subscription_id)}/ack", {"event_ids": event_ids}, idempotent=True)

    def deliveries(self, subscription_id: str, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page:
        return _page(self._get(f"/v1/subscriptions/{_q(subscription_id)}/deliveries", limit=limit, cursor=cursor), "deliveries")


class AuditResource(_Resource):
    def logs(self, **filters: Any) -> Page:
        """Filters: from_ (or ``**{"from": …}``), to, action, identity_id, identity_type, path_prefix, success, source_ip, request_id, limit, cursor."""
        if "from_" in filters:
            filters["from"] = filters.pop("from_")
        return _page(self._get("/v1/audit/logs", **filters), "logs")

    def for_secret(self, path: str, **filters: Any) -> Page:
        return _page(self._get(f"/v1/audit/secrets/{to_path(path)}", **filters), "logs")

    def for_identity(self, identity_id: str, **filters: Any) -> Page:
        return _page(self._get(f"/v1/audit/identities/{_q(identity_id)}", **filters), "logs")

    def summary(self, **filters: Any) -> ApiObject:
        return ApiObject(self._get("/v1/audit/summary", **filters))

    def verify(self) -> ApiObject:
        return ApiObject(self._get("/v1/audit/verify"))

    def export(self, **request: Any) -> ApiObject:
        return self._post("/v1/audit/export", request)

    def exports(self) -> Page:
        return _page(self._get("/v1/audit/exports"), "data")

    def get_export(self, export_id: str) -> ApiObject:
        return ApiObject(self._get(f"/v1/audit/exports/{_q(export_id)}"))


class TokensResource(_Resource):
    def create(self, identity_id: Optional[str] = None, identity_type: Optional[str] = None, scopes: Optional[list[str]] = None,
               expires_in: Optional[str] = None, description: Optional[str] = None) -> ApiObject:
        """The answer's ``token`` is shown once. Without ``identity_id``: a personal token for the caller."""
        body: Body = {}
        if identity_id is not None:
            body["identity_id"] = identity_id
        if identity_type is not None:
            body["identity_type"] = identity_type
        for key, value in (("scopes", scopes), ("expires_in", expires_in), ("description", description)):
            if value is not None:
                body[key] = value
        return self._post("/v1/auth/tokens", body)

    def list(self, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page:
        return _page(self._get("/v1/auth/tokens", limit=limit, cursor=cursor), "data")

    def revoke(self, token_id: str) -> ApiObject:
        return self._delete(f"/v1/auth/tokens/{_q(token_id)}")


class AuthResource(_Resource):
    def whoami(self) -> ApiObject:
        return ApiObject(self._get("/v1/auth/whoami"))

    def introspect(self, token: str) -> ApiObject:
        return self._post("/v1/auth/introspect", {"token": token}, idempotent=True)


class TenantsResource(_Resource):
    def create(self, name: str, tenant_id: Optional[str] = None) -> ApiObject:
        return self._post("/v1/identity/tenants", {"name": name, **({"id": tenant_id} if tenant_id else {})})

    def list(self) -> Page:
        return _page(self._get("/v1/identity/tenants"), "data")


class SystemResource(_Resource):
    def health(self) -> ApiObject:
        return ApiObject(self._get("/v1/health"))

    def ready(self) -> ApiObject:
        return ApiObject(self._get("/v1/health/ready"))

    def version(self) -> ApiObject:
        return ApiObject(self._get("/v1/version"))
