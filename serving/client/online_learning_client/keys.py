"""Where an agent finds its API key: ``ONLINE_LEARNING_API_KEY``, else ``<home>/api-key``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["api_key_from_env"]


def api_key_from_env(home: str | Path | None = None) -> str | None:
    """The key in ``ONLINE_LEARNING_API_KEY``, else the development key that ``make run``
    (``online-learning up`` or ``serve``) wrote to ``<home>/api-key``, else None.

    ``home`` defaults to ``ONLINE_LEARNING_HOME``, then ``~/.online-learning``.
    """
    key = os.environ.get("ONLINE_LEARNING_API_KEY", "").strip()
    if key:
        return key
    folder = Path(home or os.environ.get("ONLINE_LEARNING_HOME") or "~/.online-learning")
    path = folder.expanduser() / "api-key"
    try:
        key = path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    return key or None
