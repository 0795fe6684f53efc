"""The platform's default models: three regime specialists (a leaf: no torch, no I/O).

The one list of the default model ids: the daily update, the command line, the serving
replicas and the regime classifier all take it from here.
"""

from __future__ import annotations

__all__ = ["SPECIALISTS", "regime_of"]

SPECIALISTS: dict[str, str] = {
    "bull_specialist": "bull",
    "bear_specialist": "bear",
    "sideways_specialist": "sideways",
}
"""Default model ids and the regime each one specialises in."""


def regime_of(model_id: str) -> str | None:
    """The regime a default specialist serves, or ``None`` for any other model id.

    Examples
    --------
    >>> regime_of("bear_specialist")
    'bear'
    >>> regime_of("my_model") is None
    True
    """
    return SPECIALISTS.get(model_id)
