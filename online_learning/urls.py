"""Database URLs made safe to show: no password in a message, a log line or a run's metadata.

A password can sit in two places of a URL: after the user name
(``postgresql://trader:s3cret@db/prices``) and in a query parameter that the driver receives
(``?password=s3cret``, ``?sslpassword=...``). Both are replaced by ``***``. Everything else is
kept, so that a message still says which server, database and user were meant.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # light to import: the command line uses it before anything else loads
    from sqlalchemy.engine import URL

__all__ = ["SECRET_PARAMETER_WORDS", "is_secret_parameter", "redact", "redact_url", "scrub"]

#: A query parameter whose name contains one of these words holds a secret.
SECRET_PARAMETER_WORDS: tuple[str, ...] = ("password", "passwd", "pwd", "secret", "token")

_MASK = "***"
# The user-info part as SQLAlchemy reads it: the password runs from the first ':' after the
# user name to the first '@' (a '@' inside a password must be written %40).
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")
_SECRET_IN_QUERY = re.compile(
    r"([?&][^=&#]*(?:" + "|".join(SECRET_PARAMETER_WORDS) + r")[^=&#]*=)[^&#]*", re.IGNORECASE
)


def is_secret_parameter(name: str) -> bool:
    """Whether a URL query parameter called ``name`` holds a secret.

    Examples
    --------
    >>> is_secret_parameter("sslpassword"), is_secret_parameter("sslmode")
    (True, False)
    """
    lowered = name.lower()
    return any(word in lowered for word in SECRET_PARAMETER_WORDS)


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``; safe to put in a message.

    Works on text that is not a valid URL too (it is what an error about a malformed URL
    quotes).

    Examples
    --------
    >>> redact("postgresql://trader:s3cret@db:5432/metrics")
    'postgresql://trader:***@db:5432/metrics'
    >>> redact("postgresql://trader@db/prices?sslmode=require&password=s3cret&table=bars")
    'postgresql://trader@db/prices?sslmode=require&password=***&table=bars'
    """
    text = _PASSWORD_IN_URL.sub(rf"\1{_MASK}@", url)
    return _SECRET_IN_QUERY.sub(rf"\1{_MASK}", text)


def redact_url(url: URL) -> str:
    """A parsed URL rendered with its password and secret query parameters as ``***``.

    Examples
    --------
    >>> from sqlalchemy import make_url
    >>> redact_url(make_url("postgresql://trader:s3cret@db/prices?password=x&sslmode=require"))
    'postgresql://trader:***@db/prices?password=***&sslmode=require'
    """
    return redact(url.render_as_string(hide_password=True))


def scrub(text: str, url: URL) -> str:
    """``text`` (a driver's error message, say) without the secrets of ``url`` in it.

    Examples
    --------
    >>> from sqlalchemy import make_url
    >>> scrub("login with s3cret failed", make_url("postgresql://trader:s3cret@db/prices"))
    'login with *** failed'
    """
    secrets = [str(url.password)] if url.password else []
    for key, value in url.query.items():
        if is_secret_parameter(key):
            secrets.extend([value] if isinstance(value, str) else value)
    # Longest first: a secret that contains another must not be left half masked.
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, _MASK)
    return text
