"""What the update loop needs from a model registry, independent of MLflow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol, runtime_checkable

from torch import nn

from online_learning.ewc import EWCState
from online_learning.models.definition import ModelDefinition
from online_learning.models.estimator import ContractEstimator

CHAMPION_ALIAS = "champion"
PREVIOUS_CHAMPION_ALIAS = "previous-champion"
#: A candidate in its challenger period (see :mod:`online_learning.challenger`).
CHALLENGER_ALIAS = "challenger"
#: The version tag holding when the version last became champion (UTC, ISO 8601): the
#: success metrics' promotion age and promotion-to-serving lag start there.
PROMOTED_AT_TAG = "promoted_at"
#: The version tag naming the last day of data the version trained on.
TRAINED_THROUGH_TAG = "train_end"


def promoted_at_text(at: datetime | None = None) -> str:
    """The value of :data:`PROMOTED_AT_TAG` for ``at`` (default now)."""
    return (at or datetime.now(UTC)).astimezone(UTC).isoformat()


def tag_date(text: str | None) -> date | None:
    """The day a tag such as :data:`TRAINED_THROUGH_TAG` names (None: absent, or set by hand
    to something that is not a date).

    >>> tag_date("2022-06-08"), tag_date("soon"), tag_date(None)
    (datetime.date(2022, 6, 8), None, None)
    """
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def tag_time(text: str | None) -> datetime | None:
    """The UTC time :data:`PROMOTED_AT_TAG` holds (None: absent, malformed or naive)."""
    try:
        at = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return None if at is None or at.tzinfo is None else at.astimezone(UTC)


@dataclass
class LoadedModel:
    """A registered version with its EWC state, tags and definition.

    A version registered before definitions were recorded is taken to be the platform's own
    network on its ten features, on data it does not name (``definition.data`` None).
    """

    model_id: str
    version: str
    model: nn.Module | ContractEstimator
    ewc_state: EWCState | None
    tags: dict[str, str] = field(default_factory=dict)
    definition: ModelDefinition | None = None

    def __post_init__(self) -> None:
        if self.definition is None:
            self.definition = ModelDefinition.legacy(self.model_id)


@dataclass(frozen=True)
class CandidateRecord:
    """Where a candidate was logged; ``version`` is set when it was registered."""

    run_id: str
    version: str | None


@dataclass(frozen=True)
class Promotion:
    """The ``champion`` alias moved from ``previous_version`` to ``version``."""

    model_id: str
    version: str
    previous_version: str | None


@runtime_checkable
class ModelRegistry(Protocol):
    """Versions, the ``champion`` alias and the EWC state that travels with each version.

    ``challenger`` is the alias of a candidate in its challenger period: at most one per
    model; :meth:`name_challenger` moves it, :meth:`clear_challenger` removes it (a promotion
    of the challenger is :meth:`promote` then :meth:`clear_challenger`)."""

    def champion_version(self, model_id: str) -> str | None: ...

    def champion_definition(self, model_id: str) -> ModelDefinition | None: ...

    def load_champion(self, model_id: str) -> LoadedModel: ...

    def load_version(self, model_id: str, version: str) -> LoadedModel: ...

    def log_candidate(
        self,
        *,
        model_id: str,
        model: nn.Module | ContractEstimator,
        ewc_state: EWCState | None,
        params: Mapping[str, object],
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        register: bool,
        definition: ModelDefinition | None = None,
    ) -> CandidateRecord: ...

    def promote(self, *, model_id: str, version: str) -> Promotion: ...

    def rollback(self, *, model_id: str) -> Promotion: ...

    def challenger_version(self, model_id: str) -> str | None: ...

    def name_challenger(self, *, model_id: str, version: str) -> None: ...

    def clear_challenger(self, *, model_id: str) -> None: ...
