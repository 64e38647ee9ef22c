"""``client.secrets``: read, write, metadata, list, versions, delete, rotate, batch read."""
from __future__ import annotations

import copy
from typing import Any, Iterator, Optional, Union

from ._transport import Transport
from .errors import error_for
from .cache import SecretCache
from .models import ApiObject, BatchReadResult, Page, Secret

_UNSET: Any = object()


def secret_path(path: str) -> str:
    """The server refuses percent-escapes, so the path travels as written; a ``.``/``..`` segment or a
    character a URL would reinterpret is refused here rather than sent (it could name another secret)."""
    trimmed = path.strip("/")
    if any(seg in (".", "..") for seg in trimmed.split("/")) or any(ch.isspace() or ch in "?#%\\" or ord(ch) < 32 for ch in trimmed):
        raise error_for("invalid_path", "Invalid secret path: no ., .. segments, whitespace, ?, #, % or \\", 400)
    return trimmed


class SecretsResource:
    def __init__(self, http: Transport, cache: Optional[SecretCache] = None) -> None:
        self._http = http
        self._cache = cache

    def read(self, path: str, version: Union[int, str, None] = None) -> Secret:
        """The secret with its value; ``version`` is a number or ``"previous"``. Cached when enabled."""
        p = secret_path(path)
        variant = "" if version is None else str(version)
        if self._cache is not None:
            hit = self._cache.get(p, variant)
            if hit is not None:
                return copy.deepcopy(hit)
            ticket = self._cache.ticket(p)
        answer = Secret(self._http.request("GET", f"/v1/secrets/{p}", query={"version": version}))
        if self._cache is not None:
            self._cache.put(p, variant, copy.deepcopy(answer), ticket)
        return answer

    def write(self, path: str, data: dict[str, Any], secret_type: Optional[str] = None,
              metadata: Optional[dict[str, Any]] = None, max_versions: Optional[int] = None,
              expires_in: Any = _UNSET, rotation_policy_id: Any = _UNSET, notify_before: Any = _UNSET,
              cas: Optional[int] = None) -> ApiObject:
        """Writes a new version. With ``cas`` (expected current version, 0 = absent) the write is safe to retry."""
        p = secret_path(path)
        body: dict[str, Any] = {"data": data}
        if secret_type is not None:
            body["secret_type"] = secret_type
        if metadata is not None:
            body["metadata"] = metadata
        options = _options(max_versions=max_versions, expires_in=expires_in, rotation_policy_id=rotation_policy_id,
                           notify_before=notify_before)
        if cas is not None:
            options["cas"] = cas
        if options:
            body["options"] = options
        try:
            return ApiObject(self._http.request("PUT", f"/v1/secrets/{p}", body=body, idempotent=cas is not None))
        finally:
            self._invalidate(p)

    def update_metadata(self, path: str, metadata: Optional[dict[str, Any]] = None, secret_type: Optional[str] = None,
                        max_versions: Optional[int] = None, expires_in: Any = _UNSET,
                        rotation_policy_id: Any = _UNSET, notify_before: Any = _UNSET) -> ApiObject:
        """Changes metadata and options without writing a new version."""
        p = secret_path(path)
        body: dict[str, Any] = {}
        if metadata is not None:
            body["metadata"] = metadata
        if secret_type is not None:
            body["secret_type"] = secret_type
        options = _options(max_versions=max_versions, expires_in=expires_in, rotation_policy_id=rotation_policy_id,
                           notify_before=notify_before)
        if options:
            body["options"] = options
        try:
            return ApiObject(self._http.request("PATCH", f"/v1/secrets/{p}/metadata", body=body, idempotent=True))
        finally:
            self._invalidate(p)

    def read_metadata(self, path: str) -> ApiObject:
        """Version count, tags, rotation state; no value. Needs only ``secrets:list``."""
        return ApiObject(self._http.request("GET", f"/v1/secrets/{secret_path(path)}/metadata"))

    def list(self, prefix: Optional[str] = None, tag: Optional[str] = None, limit: Optional[int] = None,
             cursor: Optional[str] = None) -> Page:
        return Page(self._http.request("GET", "/v1/secrets", query={"prefix": prefix, "tag": tag, "limit": limit, "cursor": cursor}))

    def iterate(self, prefix: Optional[str] = None, tag: Optional[str] = None, limit: Optional[int] = None) -> Iterator[ApiObject]:
        """Every matching secret, following cursors."""
        cursor = None
        while True:
            page = self.list(prefix=prefix, tag=tag, limit=limit, cursor=cursor)
            yield from page.data
            if not page.has_more or not page.cursor:
                return
            cursor = page.cursor

    def versions(self, path: str) -> ApiObject:
        return ApiObject(self._http.request("GET", f"/v1/secrets/{secret_path(path)}/versions"))

    def delete(self, path: str, permanent: bool = False) -> ApiObject:
        p = secret_path(path)
        try:
            return ApiObject(self._http.request("DELETE", f"/v1/secrets/{p}", query={"permanent": True if permanent else None}, idempotent=True))
        finally:
            self._invalidate(p)

    def undelete(self, path: str) -> ApiObject:
        return ApiObject(self._http.request("POST", f"/v1/secrets/{secret_path(path)}/undelete", body={}, idempotent=True))

    def destroy(self, path: str, versions: list[int]) -> ApiObject:
        p = secret_path(path)
        try:
            return ApiObject(self._http.request("POST", f"/v1/secrets/{p}/destroy", body={"versions": versions}, idempotent=True))
        finally:
            self._invalidate(p)

    def rotate(self, path: str) -> ApiObject:
        """Makes the secret due for rotation now."""
        return ApiObject(self._http.request("POST", f"/v1/secrets/{secret_path(path)}/rotate", body={}))

    def batch_read(self, paths: list[str], include_metadata: Optional[bool] = None, fail_fast: Optional[bool] = None,
                   version: Optional[int] = None) -> BatchReadResult:
        options = {k: v for k, v in {"include_metadata": include_metadata, "fail_fast": fail_fast, "version": version}.items() if v is not None}
        body: dict[str, Any] = {"paths": [secret_path(p) for p in paths]}
        if options:
            body["options"] = options
        return BatchReadResult(self._http.request("POST", "/v1/secrets/batch", body=body, idempotent=True))

    def expiring(self, within: str = "30d", limit: Optional[int] = None, cursor: Optional[str] = None) -> Page:
        return Page(self._http.request("GET", "/v1/secrets/expiring", query={"within": within, "limit": limit, "cursor": cursor}))

    def _invalidate(self, path: str) -> None:
        if self._cache is not None:
            self._cache.invalidate(path)


def _options(**given: Any) -> dict[str, Any]:
    return {k: v for k, v in given.items() if v is not _UNSET and not (k == "max_versions" and v is None)}
