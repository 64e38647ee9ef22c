"""Dynamic credentials (spec/dynamic.md): ``client.dynamic.creds("support-db", "readonly")`` returns a
lease with short-lived credentials; renew or revoke it by its id."""
from __future__ import annotations

import threading
import time
import urllib.parse
from datetime import datetime
from typing import Any, Callable, Optional

from ._transport import Transport
from .errors import ScaiVaultError
from .models import ApiObject, Page


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class DynamicResource:
    def __init__(self, http: Transport) -> None:
        self._http = http

    def creds(self, engine: str, role: str, ttl: Optional[str] = None, public_key: Optional[str] = None,
              valid_principals: Optional[list[str]] = None) -> ApiObject:
        """Generates credentials (``.data["username"]``/``["password"]``, or an SSH ``signed_key``).
        Never repeated after a lost answer: each call creates a user at the source."""
        body: dict[str, Any] = {}
        if ttl is not None:
            body["ttl"] = ttl
        if public_key is not None:
            body["public_key"] = public_key
        if valid_principals is not None:
            body["valid_principals"] = valid_principals
        return ApiObject(self._http.request("POST", f"/v1/dynamic/engines/{_q(engine)}/creds/{_q(role)}", body=body) or {})

    def lease(self, lease_id: str) -> ApiObject:
        return ApiObject(self._http.request("GET", f"/v1/dynamic/leases/{_q(lease_id)}") or {})

    def leases(self, **query: Any) -> Page:
        answer = self._http.request("GET", "/v1/dynamic/leases", query=query) or {}
        return Page({"data": answer.get("data", []), "cursor": answer.get("cursor"), "has_more": bool(answer.get("has_more"))})

    def renew(self, lease_id: str, increment: Optional[str] = None) -> ApiObject:
        """Extends the lease (default: the role's default_ttl), never past its max_ttl."""
        body = {"increment": increment} if increment else {}
        return ApiObject(self._http.request("POST", f"/v1/dynamic/leases/{_q(lease_id)}/renew", body=body, idempotent=True) or {})

    def revoke(self, lease_id: str) -> ApiObject:
        """Revokes at the source before answering; an ended lease comes back unchanged."""
        return ApiObject(self._http.request("POST", f"/v1/dynamic/leases/{_q(lease_id)}/revoke", body={}, idempotent=True) or {})

    def keep_renewed(self, lease: dict, on_renew: Optional[Callable[[ApiObject], None]] = None,
                     on_end: Optional[Callable[[Any], None]] = None, fraction: float = 2 / 3) -> Callable[[], None]:
        """Renews the lease whenever ``fraction`` of its remaining time has passed, on a daemon timer
        thread, until stopped or it can no longer be renewed: ``on_end`` hears ``"max_ttl"`` or the
        error (a revoked or expired lease). Returns a function that stops it."""
        lock = threading.Lock()
        state: dict[str, Any] = {"timer": None, "stopped": False}

        def end(reason: Any) -> None:
            if on_end is not None:
                on_end(reason)

        def schedule(current: dict) -> None:
            if not current.get("renewable"):
                end("max_ttl")
                return
            wait = max(1.0, (_epoch(current["expires_at"]) - time.time()) * fraction)
            with lock:
                if state["stopped"]:
                    return
                timer = threading.Timer(wait, fire, args=(current,))
                timer.daemon = True
                state["timer"] = timer
                timer.start()

        def fire(current: dict) -> None:
            if state["stopped"]:
                return
            try:
                renewed = self.renew(current["lease_id"])
            except ScaiVaultError as error:
                end(error)
                return
            if on_renew is not None:
                on_renew(renewed)
            schedule(renewed)

        def stop() -> None:
            with lock:
                state["stopped"] = True
                if state["timer"] is not None:
                    state["timer"].cancel()

        schedule(lease)
        return stop

    def revoke_prefix(self, prefix: str) -> ApiObject:
        return ApiObject(self._http.request("POST", "/v1/dynamic/leases/revoke-prefix", body={"prefix": prefix}, idempotent=True) or {})

    def create_engine(self, **engine: Any) -> ApiObject:
        return ApiObject(self._http.request("POST", "/v1/dynamic/engines", body=engine) or {})

    def create_role(self, engine: str, **role: Any) -> ApiObject:
        return ApiObject(self._http.request("POST", f"/v1/dynamic/engines/{_q(engine)}/roles", body=role) or {})

    def rotate_root(self, engine: str) -> ApiObject:
        return ApiObject(self._http.request("POST", f"/v1/dynamic/engines/{_q(engine)}/rotate-root", body={}) or {})
