"""PKI (spec/pki.md): create CAs, issue and sign under roles, revoke. ``issue`` answers the private
key once; it is never shown again."""
from __future__ import annotations

import urllib.parse
from typing import Any, Optional

from ._transport import Transport
from .models import ApiObject


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class PkiResource:
    def __init__(self, http: Transport) -> None:
        self._http = http

    def _post(self, path: str, body: dict[str, Any], idempotent: bool = False) -> ApiObject:
        return ApiObject(self._http.request("POST", path, body=body, idempotent=idempotent) or {})

    def create_ca(self, *, name: str, common_name: str, ca_type: str, parent_ca_id: Optional[str] = None,
                  key_type: Optional[str] = None, key_size: Optional[int] = None, validity_days: Optional[int] = None) -> ApiObject:
        body = {"name": name, "common_name": common_name, "ca_type": ca_type, "parent_ca_id": parent_ca_id,
                "key_type": key_type, "key_size": key_size, "validity_days": validity_days}
        return self._post("/v1/pki/ca", {k: v for k, v in body.items() if v is not None})

    def get_ca(self, ca_id: str) -> ApiObject:
        return ApiObject(self._http.request("GET", f"/v1/pki/ca/{_q(ca_id)}") or {})

    def list_cas(self) -> list[ApiObject]:
        return [ApiObject(c) for c in (self._http.request("GET", "/v1/pki/ca") or {}).get("data", [])]

    def revoke_ca(self, ca_id: str, reason: str = "unspecified") -> ApiObject:
        return self._post(f"/v1/pki/ca/{_q(ca_id)}/revoke", {"reason": reason}, idempotent=True)

    def issue(self, role: str, *, common_name: str, alt_names: Optional[list[str]] = None,
              ip_sans: Optional[list[str]] = None, ttl: Optional[str] = None) -> ApiObject:
        body = {"common_name": common_name, "alt_names": alt_names, "ip_sans": ip_sans, "ttl": ttl}
        return self._post(f"/v1/pki/issue/{_q(role)}", {k: v for k, v in body.items() if v is not None})

    def sign(self, role: str, *, csr_pem: str, ttl: Optional[str] = None) -> ApiObject:
        return self._post(f"/v1/pki/sign/{_q(role)}", {k: v for k, v in {"csr_pem": csr_pem, "ttl": ttl}.items() if v is not None})

    def get_certificate(self, id_or_serial: str) -> ApiObject:
        return ApiObject(self._http.request("GET", f"/v1/pki/certificates/{_q(id_or_serial)}") or {})

    def revoke(self, id_or_serial: str, reason: str = "unspecified") -> ApiObject:
        """Idempotent: a revoked certificate answers unchanged."""
        return self._post(f"/v1/pki/certificates/{_q(id_or_serial)}/revoke", {"reason": reason}, idempotent=True)
