"""ScaiVault Python SDK (standard library only)."""
from .client import AsyncScaiVaultClient, ScaiVaultClient, SyncScaiVaultClient
from .errors import (AuthenticationError, ConflictError, GoneError, NetworkError, NotFoundError,
                     PermissionDeniedError, RateLimitError, ScaiVaultError, ServerError, ServiceUnavailableError,
                     ValidationError)
from .identity import exchange_token
from .models import ApiObject, BatchReadResult, Page, Secret
from .webhooks import verify_webhook_signature

__version__ = "0.1.0"
__all__ = [
    "ScaiVaultClient", "SyncScaiVaultClient", "exchange_token", "AsyncScaiVaultClient", "verify_webhook_signature",
    "ApiObject", "Secret", "Page", "BatchReadResult", "ScaiVaultError", "AuthenticationError",
    "PermissionDeniedError", "NotFoundError", "GoneError", "ConflictError", "ValidationError", "RateLimitError",
    "ServiceUnavailableError", "ServerError", "NetworkError",
]
