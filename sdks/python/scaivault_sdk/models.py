"""Answers as dicts that also allow attribute access (``secret.data``, ``secret.metadata.tags``)."""
from __future__ import annotations

from typing import Any


def wrap(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, ApiObject):
        return ApiObject(value)
    if isinstance(value, list):
        return [wrap(item) for item in value]
    return value


class ApiObject(dict):
    """A JSON object from the API. Keys are the wire's snake_case names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, value in list(self.items()):
            dict.__setitem__(self, key, wrap(value))

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value
        return plain(self)


class Secret(ApiObject):
    """A secret with its value: ``.data``, ``.version``, ``.metadata``, ``.secret_type``, ``.path``."""


class Page(ApiObject):
    """One page of a list: ``.data`` (items), ``.cursor``, ``.has_more``."""


class BatchReadResult(ApiObject):
    """``.secrets`` (path → secret) and ``.errors`` (path → {code, message})."""
