"""HTTP, authentication, typed errors and bounded retries, shared by every resource."""
from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping, Optional

from .errors import NetworkError, ScaiVaultError, error_for

DEFAULT_TOKEN_URL = "https://scaikey.scailabs.ai/oauth/token"
USER_AGENT = "scaivault-python/0.1.0"


def url_for(base_url: str, path: str, query: Optional[Mapping[str, Any]] = None) -> str:
    url = base_url.rstrip("/") + path
    pairs = []
    for key, value in (query or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append((key, str(value)))
    return url + ("?" + urllib.parse.urlencode(pairs) if pairs else "")


class Transport:
    def __init__(self, base_url: str, token: Optional[str] = None, client_id: Optional[str] = None,
                 client_secret: Optional[str] = None, token_url: Optional[str] = None,
                 scopes: Optional[list[str]] = None, tenant_id: Optional[str] = None,
                 timeout: float = 30.0, max_attempts: int = 3, max_delay: float = 30.0,
                 ca_cert: Optional[str] = None, verify: bool = True) -> None:
        if not base_url:
            raise ValueError("base_url is required")
        if not token and not (client_id and client_secret):
            raise ValueError("either token or client_id and client_secret are required")
        self.base_url = base_url.rstrip("/")
        self._static_token = token
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url or DEFAULT_TOKEN_URL
        self._scopes = scopes
        self.tenant_id = tenant_id
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.max_delay = max_delay
        self._lock = threading.Lock()
        # TLS: ca_cert (a PEM file) trusts a private CA; verify=False turns checking off (development only).
        self.ssl_context: Optional[ssl.SSLContext] = None
        if ca_cert is not None or not verify:
            context = ssl.create_default_context(cafile=ca_cert)
            context.load_default_certs()  # the private CA in addition to the system's (ScaiKey is public)
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self.ssl_context = context
        self._access_token: Optional[str] = None
        self._expires_at = 0.0

    def bearer(self, force_refresh: bool = False) -> str:
        if self._static_token:
            return self._static_token
        with self._lock:
            if force_refresh or not self._access_token or time.time() >= self._expires_at:
                self._exchange()
            assert self._access_token is not None
            return self._access_token

    def _exchange(self) -> None:
        form = {"grant_type": "client_credentials", "client_id": self._client_id, "client_secret": self._client_secret}
        if self._scopes:
            form["scope"] = " ".join(self._scopes)
        request = urllib.request.Request(
            self._token_url, data=urllib.parse.urlencode(form).encode(), method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.ssl_context) as response:
                body = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            # The client secret never appears in the message.
            raise error_for("authentication_required", f"client-credentials exchange failed ({error.code})", 401) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise NetworkError("network_error", f"token endpoint unreachable: {type(error).__name__}", 0) from None
        token = body.get("access_token")
        if not isinstance(token, str):
            raise error_for("authentication_required", "client-credentials exchange returned no access_token", 401)
        lifetime = float(body.get("expires_in") or 3600)
        self._access_token = token
        self._expires_at = time.time() + max(1.0, lifetime - min(60.0, lifetime / 2))

    def headers(self, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, "Authorization": f"Bearer {self.bearer()}"}
        if self.tenant_id:
            headers["X-Tenant-ID"] = self.tenant_id
        headers.update(extra or {})
        return headers

    def request(self, method: str, path: str, query: Optional[Mapping[str, Any]] = None, body: Any = None,
                idempotent: Optional[bool] = None) -> Any:
        """One API call. 429 is refused before anything is applied, so any request repeats after it;
        a 503 or a lost connection may hide an applied write, so only idempotent requests repeat."""
        if idempotent is None:
            idempotent = method == "GET"
        refreshed = False
        attempt = 1
        while True:
            try:
                return self._once(method, path, query, body)
            except ScaiVaultError as error:
                if error.code == "token_expired" and not self._static_token and not refreshed:
                    refreshed = True
                    self.bearer(force_refresh=True)
                    continue
                retryable = error.code == "rate_limited" or (
                    error.code in ("service_unavailable", "network_error") and idempotent)
                if not retryable or attempt >= self.max_attempts:
                    raise
                wait = error.retry_after if error.retry_after is not None else min(2 ** (attempt - 1), self.max_delay)
                time.sleep(min(wait, self.max_delay))
                attempt += 1

    def _once(self, method: str, path: str, query: Optional[Mapping[str, Any]], body: Any) -> Any:
        headers = self.headers()
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url_for(self.base_url, path, query), data=data, method=method, headers=headers)
        if any(ch.isspace() or ord(ch) < 32 for ch in path):
            # http.client refuses such a URL; answer as the server would for a bad path.
            raise error_for("invalid_path", "Invalid secret path: it contains whitespace or control characters", 400)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.ssl_context) as response:
                text = response.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                wire = (json.loads(raw) or {}).get("error") or {}
            except ValueError:
                wire = {}
            retry_after = error.headers.get("Retry-After")
            raise error_for(
                code=wire.get("code") or f"http_{error.code}",
                message=wire.get("message") or f"ScaiVault answered {error.code}",
                status=error.code,
                request_id=wire.get("request_id") or error.headers.get("X-Request-ID"),
                details=wire.get("details") or {},
                retry_after=int(retry_after) if retry_after and retry_after.strip().isdigit() else None,
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise NetworkError("network_error", f"request to ScaiVault failed: {type(reason).__name__}", 0) from None
