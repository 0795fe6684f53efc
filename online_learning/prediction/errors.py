"""Errors of the prediction library; the serving layer maps them to HTTP status codes.

``InsufficientBars``, ``InvalidBars`` and ``InvalidFeatures`` are the caller's fault (422),
``UnknownModel`` names a model that is not served (404), ``NoChampions`` means nothing can be
served yet (503), ``ChampionLoadError`` is a registry or model failure to log (the champions
already loaded keep serving).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from online_learning.errors import ModelNotFoundError, OnlineLearningError

__all__ = [
    "ChampionLoadError",
    "InsufficientBars",
    "InvalidBars",
    "InvalidFeatures",
    "InvalidSymbol",
    "NoChampions",
    "NoEnsemble",
    "UnknownModel",
]


class InsufficientBars(OnlineLearningError, ValueError):
    """Too few daily bars to compute every feature.

    Attributes
    ----------
    needed, got : int
        Bars the features need and bars that came.
    """

    def __init__(self, needed: int, got: int, *, model_id: str | None = None) -> None:
        self.needed = needed
        self.got = got
        what = "the features need" if model_id is None else f"model {model_id!r} needs"
        super().__init__(f"{what} at least {needed} daily bars (the newest last); got {got}")


class InvalidBars(OnlineLearningError, ValueError):
    """A bar that cannot be used: missing or bad date, dates not strictly increasing,
    a non-finite or non-positive price.

    Attributes
    ----------
    index : int or None
        Position of the offending bar in the list given, None when the list itself is wrong.
    detail : str
        What is wrong, for a human.
    """

    def __init__(self, detail: str, *, index: int | None = None) -> None:
        self.index = index
        self.detail = detail
        where = "bars" if index is None else f"bars[{index}]"
        super().__init__(f"{where}: {detail}")


class InvalidFeatures(OnlineLearningError, ValueError):
    """Features that are not exactly the served models' ``feature_names``, or not finite.

    Attributes
    ----------
    missing, unknown, non_finite : tuple of str
        Names expected and absent, given and not expected, given with a value that is not a
        finite number.
    index : int or None
        Row of a batch the error is about.
    """

    def __init__(
        self,
        *,
        missing: Sequence[str] = (),
        unknown: Sequence[str] = (),
        non_finite: Sequence[str] = (),
        index: int | None = None,
        detail: str | None = None,
    ) -> None:
        self.missing = tuple(missing)
        self.unknown = tuple(unknown)
        self.non_finite = tuple(non_finite)
        self.index = index
        parts = []
        if self.missing:
            parts.append(f"missing {list(self.missing)}")
        if self.unknown:
            parts.append(f"unknown {list(self.unknown)[:20]}")
        if self.non_finite:
            parts.append(f"not finite numbers {list(self.non_finite)}")
        if detail:
            parts.append(detail)
        where = "features" if index is None else f"requests[{index}].features"
        super().__init__(f"{where}: {'; '.join(parts) or 'invalid'}")


class UnknownModel(OnlineLearningError, LookupError):
    """A model id that is not among the served specialists."""

    def __init__(self, model_id: str, served: Sequence[str]) -> None:
        self.model_id = model_id
        super().__init__(f"model {model_id!r} is not served; served models: {sorted(served)}")


class NoChampions(ModelNotFoundError):
    """None of the specialists has a ``champion`` version to serve."""


class NoEnsemble(OnlineLearningError, ValueError):
    """No ensemble is served (no configured model reads the built-in feature rows): a
    prediction must name its ``model_id``."""


class ChampionLoadError(OnlineLearningError):
    """Loading one or more champions failed; the ones already serving keep serving.

    Attributes
    ----------
    errors : Mapping of model id to exception
    swapped : list of str
        Models that were swapped in by the same refresh despite the failures.
    """

    def __init__(self, errors: Mapping[str, BaseException], swapped: Sequence[str] = ()) -> None:
        self.errors = dict(errors)
        self.swapped = list(swapped)
        detail = "; ".join(f"{model_id}: {exc}" for model_id, exc in sorted(self.errors.items()))
        super().__init__(f"could not load the champion of {detail}")


class InvalidSymbol(OnlineLearningError, ValueError):
    """A symbol that is not 1-64 characters without white space."""
