"""Typed errors for the API's error codes. Match on ``code`` or the class, never on the message."""
from __future__ import annotations

from typing import Any, Optional


class ScaiVaultError(Exception):
    """Any error answered by ScaiVault (or a transport failure, ``code == "network_error"``)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        request_id: Optional[str] = None,
        details: Optional[dict[str, Any]] = None,
        retry_after: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.details = details or {}
        self.retry_after = retry_after

    def __str__(self) -> str:
        suffix = f" [{self.request_id}]" if self.request_id else ""
        return f"{self.code}: {self.message}{suffix}"


class AuthenticationError(ScaiVaultError):
    """401: no, malformed, unknown, expired or revoked token."""


class PermissionDeniedError(ScaiVaultError):
    """403: no policy grants it, the token's scopes are too narrow, a failed condition, another tenant."""


class NotFoundError(ScaiVaultError):
    """404 (and 410, see GoneError)."""


class GoneError(NotFoundError):
    """410: an expired secret, an expired or destroyed version."""


class ConflictError(ScaiVaultError):
    """409: version_conflict, secret_exists, already_exists, policy_in_use, no_rotation_policy."""


class ValidationError(ScaiVaultError):
    """400, 413, 422: input the server refused; ``fields`` holds a 422's per-field messages."""

    @property
    def fields(self) -> dict[str, str]:
        return dict(self.details.get("fields") or {})


class RateLimitError(ScaiVaultError):
    """429 rate_limited; ``retry_after`` is in seconds."""


class ServiceUnavailableError(ScaiVaultError):
    """503 service_unavailable; ``retry_after`` is in seconds."""


class ServerError(ScaiVaultError):
    """5xx other than 503."""


class NetworkError(ScaiVaultError):
    """No answer: connection refused or reset, timeout."""


def error_for(code: str, message: str, status: int, request_id: Optional[str] = None,
              details: Optional[dict[str, Any]] = None, retry_after: Optional[int] = None) -> ScaiVaultError:
    args = (code, message, status, request_id, details, retry_after)
    if code == "rate_limited" or status == 429:
        return RateLimitError(*args)
    if code == "service_unavailable" or status == 503:
        return ServiceUnavailableError(*args)
    if status == 401:
        return AuthenticationError(*args)
    if status == 403:
        return PermissionDeniedError(*args)
    if status == 410:
        return GoneError(*args)
    if status == 404:
        return NotFoundError(*args)
    if status == 409:
        return ConflictError(*args)
    if status in (400, 413, 415, 422):
        return ValidationError(*args)
    if status >= 500:
        return ServerError(*args)
    return ScaiVaultError(*args)


__all__ = [
    "ScaiVaultError", "AuthenticationError", "PermissionDeniedError", "NotFoundError", "GoneError",
    "ConflictError", "ValidationError", "RateLimitError", "ServiceUnavailableError", "ServerError",
    "NetworkError", "error_for",
]
