"""Checks a delivery's ``X-ScaiVault-Signature`` under either scheme the vault signs with."""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Optional, Union


def _hex(secret: str, *parts: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.hexdigest()


def verify_webhook_signature(payload: Union[bytes, str], signature: Optional[str], secret: str,
                             timestamp: Union[str, int, None] = None, scheme: Optional[str] = None,
                             tolerance: int = 300, now: Optional[float] = None) -> bool:
    """``payload`` is the raw body as received. Schemes: ``body`` — ``hex(HMAC-SHA256(secret, body))``
    (the seed's); ``timestamped`` — ``sha256=hex(HMAC-SHA256(secret, f"{ts}." + body))`` within
    ``tolerance`` seconds of ``X-ScaiVault-Timestamp``. Default: by the signature's ``sha256=`` prefix."""
    signature = (signature or "").strip()
    if not signature or not secret:
        return False
    body = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    chosen = scheme or ("timestamped" if signature.startswith("sha256=") else "body")
    if chosen == "body":
        return hmac.compare_digest(signature.lower().encode(), _hex(secret, body).encode())
    if chosen != "timestamped" or not signature.startswith("sha256="):
        return False
    ts = str(timestamp if timestamp is not None else "").strip()
    if not ts.isdigit() or len(ts) > 12:
        return False
    current = time.time() if now is None else now
    if abs(current - int(ts)) > tolerance:
        return False
    expected = _hex(secret, ts.encode() + b".", body)
    return hmac.compare_digest(signature[len("sha256="):].lower().encode(), expected.encode())
