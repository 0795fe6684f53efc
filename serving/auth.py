"""Bearer API keys with scopes, from ``ONLINE_LEARNING_API_KEYS`` (``key:scope,scope;key2:scope``).

Scopes are ``predict``, ``feedback`` and ``admin``; ``admin`` implies the other two. Keys are
compared in constant time (:func:`hmac.compare_digest` over every configured key, so the time
taken does not say which key nearly matched) and are never logged or echoed: a principal is
named by a short fingerprint (the first 8 hex digits of the key's SHA-256).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from online_learning.errors import ConfigError

__all__ = [
    "SCOPES",
    "ApiKeys",
    "Principal",
    "bearer_token",
    "development_key",
]

SCOPES = frozenset({"predict", "feedback", "admin"})
#: Printable characters without the separators of the setting.
_KEY = re.compile(r"[A-Za-z0-9._~+/=-]{16,256}")


@dataclass(frozen=True)
class Principal:
    """Who made a request: the key's fingerprint and its scopes (never the key itself)."""

    fingerprint: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:8]


class ApiKeys:
    """The configured keys; :meth:`authenticate` maps a presented token to a :class:`Principal`.

    Examples
    --------
    >>> keys = ApiKeys.parse("agent-key-0123456789:predict,feedback;ops-key-0123456789:admin")
    >>> keys.authenticate("agent-key-0123456789").allows("feedback")
    True
    >>> keys.authenticate("ops-key-0123456789").allows("predict")
    True
    >>> keys.authenticate("wrong-key-0123456789") is None
    True
    """

    def __init__(self, entries: Iterable[tuple[str, frozenset[str]]]) -> None:
        self._entries = [(key.encode(), frozenset(scopes)) for key, scopes in entries]

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:  # never the keys
        return f"ApiKeys({len(self)} keys)"

    @classmethod
    def parse(cls, text: str | None) -> ApiKeys:
        """Parse ``key:scope,scope;key2:scope``; :class:`ConfigError` names the bad entry by
        position (never by its key)."""
        entries: list[tuple[str, frozenset[str]]] = []
        seen: set[str] = set()
        for i, raw in enumerate((text or "").split(";"), start=1):
            entry = raw.strip()
            if not entry:
                continue
            key, sep, scope_text = entry.partition(":")
            key = key.strip()
            if not sep:
                raise ConfigError(
                    f"ONLINE_LEARNING_API_KEYS entry {i} has no ':' (expected key:scope,scope)"
                )
            if not _KEY.fullmatch(key):
                raise ConfigError(
                    f"ONLINE_LEARNING_API_KEYS entry {i}: a key is 16-256 characters of "
                    "letters, digits and ._~+/=-"
                )
            scopes = frozenset(s.strip() for s in scope_text.split(",") if s.strip())
            unknown = scopes - SCOPES
            if not scopes or unknown:
                raise ConfigError(
                    f"ONLINE_LEARNING_API_KEYS entry {i}: scopes must be among "
                    f"{sorted(SCOPES)}, got {sorted(scopes) or 'none'}"
                )
            if key in seen:
                raise ConfigError(f"ONLINE_LEARNING_API_KEYS entry {i} repeats an earlier key")
            seen.add(key)
            entries.append((key, scopes))
        return cls(entries)

    def authenticate(self, token: str | None) -> Principal | None:
        """The principal of ``token``, or None when it matches no key."""
        if not token:
            return None
        presented = token.encode()
        found: frozenset[str] | None = None
        for key, scopes in self._entries:  # every key, whatever matched: constant time
            if hmac.compare_digest(presented, key):
                found = scopes
        if found is None:
            return None
        return Principal(fingerprint(token), found)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def development_key(home: Path) -> tuple[str, bool]:
    """The development key kept in ``<home>/api-key`` (mode 600), created on first use.

    The file is created with its mode (never readable by others, not even for a moment,
    whatever the umask) and moved into place whole. Returns ``(key, created)``. ``make run``
    serves it with the ``admin`` scope.
    """
    path = home.expanduser() / "api-key"
    if path.exists():
        key = path.read_text().strip()
        if _KEY.fullmatch(key):
            return key, False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = "dev-" + secrets.token_urlsafe(24)
    tmp = path.with_name(f".api-key.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(key + "\n")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return key, True
