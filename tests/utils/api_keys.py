"""The API keys of the tests, one a role, and ``ONLINE_LEARNING_API_KEYS`` built from them.

Every test server (the platform's app, the stream router alone, ``online-learning serve``)
gets :data:`KEYS` unless its test rotates them; a test names a key by the role it plays.
"""

from __future__ import annotations

AGENT = "agent-key-0123456789"  # predict
FEEDER = "feeder-key-012345678"  # feedback
OPS = "ops-key-0123456789ab"  # admin
TRADER = "trader-key-0123456789"  # predict, feedback: what a trading agent holds
UNKNOWN = "unknown-key-0123456789"  # a well-formed key no test server knows

SCOPES: dict[str, tuple[str, ...]] = {
    AGENT: ("predict",),
    FEEDER: ("feedback",),
    OPS: ("admin",),
    TRADER: ("predict", "feedback"),
}


def api_keys(*keys: str) -> str:
    """``ONLINE_LEARNING_API_KEYS`` granting ``keys`` (all of :data:`SCOPES` when none) their
    scopes.

    >>> api_keys(OPS, FEEDER)
    'ops-key-0123456789ab:admin;feeder-key-012345678:feedback'
    """
    return ";".join(f"{key}:{','.join(SCOPES[key])}" for key in keys or SCOPES)


KEYS = api_keys()


def bearer(key: str) -> dict[str, str]:
    """The ``Authorization`` header presenting ``key``."""
    return {"Authorization": f"Bearer {key}"}
