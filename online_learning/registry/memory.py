"""A model registry held in memory: the throw-away registry of the backtest harness.

It keeps the semantics of :class:`~online_learning.registry.mlflow_registry.MlflowRegistry`:
versions numbered ``"1"``, ``"2"``, ... per model; ``log_candidate(register=False)`` records a
run but never a version; :meth:`InMemoryRegistry.promote` moves ``champion`` and gives the
version it replaces the ``previous-champion`` alias (the new version remembers it in a
``previous_champion`` tag); :meth:`InMemoryRegistry.rollback` walks that chain back one step.

Models and EWC states are deep-copied on the way in and on the way out, as a real store
serialises them: a caller that keeps training the object it logged, or the object it loaded,
cannot change a registered version.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from torch import nn

from online_learning.errors import ModelNotFoundError
from online_learning.ewc import EWCState
from online_learning.models.definition import ModelDefinition
from online_learning.models.estimator import ContractEstimator
from online_learning.registry.base import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    PREVIOUS_CHAMPION_ALIAS,
    PROMOTED_AT_TAG,
    CandidateRecord,
    LoadedModel,
    Promotion,
    promoted_at_text,
)

__all__ = ["InMemoryRegistry", "RunRecord"]


@dataclass(frozen=True)
class RunRecord:
    """One logged run: a registered version or a rejected candidate kept for audit."""

    run_id: str
    model_id: str
    version: str | None
    params: dict[str, object]
    metrics: dict[str, float]
    tags: dict[str, str]


@dataclass
class _Version:
    model: nn.Module | ContractEstimator
    ewc_state: EWCState | None
    run_id: str
    tags: dict[str, str] = field(default_factory=dict)
    definition: ModelDefinition | None = None


class InMemoryRegistry:
    """Versions, aliases and EWC states of models, kept in this process only.

    Parameters
    ----------
    name : str, default "memory"
        Shown in error messages in place of a tracking URI.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> registry = InMemoryRegistry()
    >>> model = nn.Linear(2, 1)
    >>> record = registry.log_candidate(model_id="m", model=model, ewc_state=None, params={},
    ...                                 metrics={}, tags={}, register=True)
    >>> registry.promote(model_id="m", version=record.version)
    Promotion(model_id='m', version='1', previous_version=None)
    >>> with torch.no_grad():
    ...     _ = model.bias.add_(1.0)  # the registered copy does not change
    >>> loaded = registry.load_champion("m")
    >>> loaded.version, torch.equal(loaded.model.bias, model.bias)
    ('1', False)
    """

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self._versions: dict[str, dict[str, _Version]] = {}
        self._aliases: dict[str, dict[str, str]] = {}
        self._model_tags: dict[str, dict[str, str]] = {}
        self._runs: list[RunRecord] = []
        self._run_ids = itertools.count(1)

    # -- reading --------------------------------------------------------------------------
    def champion_version(self, model_id: str) -> str | None:
        """The version ``champion`` points to, or None when there is none."""
        return self._aliases.get(model_id, {}).get(CHAMPION_ALIAS)

    def alias_version(self, model_id: str, alias: str) -> str | None:
        """The version ``alias`` points to, or None."""
        return self._aliases.get(model_id, {}).get(alias)

    def versions(self, model_id: str) -> list[str]:
        """Registered versions of ``model_id``, oldest first."""
        return list(self._versions.get(model_id, {}))

    def runs(self, model_id: str | None = None) -> list[RunRecord]:
        """Every logged run (promoted, registered or rejected), oldest first."""
        return [r for r in self._runs if model_id is None or r.model_id == model_id]

    def list_models(self) -> list[dict[str, str | None]]:
        """Registered models with their champion and challenger versions and regime tag."""
        return [
            {
                "model_id": model_id,
                "champion": self.champion_version(model_id),
                "challenger": self.challenger_version(model_id),
                "regime": self._model_tags.get(model_id, {}).get("regime"),
            }
            for model_id in sorted(self._versions)
        ]

    def load_champion(self, model_id: str) -> LoadedModel:
        """A copy of the model ``champion`` points to, with its EWC state."""
        version = self.champion_version(model_id)
        if version is None:
            raise ModelNotFoundError(
                f"model {model_id!r} has no {CHAMPION_ALIAS!r} version in the {self.name} "
                "registry; bootstrap it first"
            )
        return self.load_version(model_id, version)

    def load_version(self, model_id: str, version: str) -> LoadedModel:
        """A copy of one registered version with its EWC state and tags."""
        try:
            stored = self._versions[model_id][str(version)]
        except KeyError as exc:
            raise ModelNotFoundError(f"model {model_id!r} has no version {version}") from exc
        return LoadedModel(
            model_id=model_id,
            version=str(version),
            model=copy.deepcopy(stored.model),
            ewc_state=copy.deepcopy(stored.ewc_state),
            tags=dict(stored.tags),
            definition=stored.definition,
        )

    def champion_definition(self, model_id: str) -> ModelDefinition | None:
        """The definition the champion carries (None: no champion, or none recorded)."""
        version = self.champion_version(model_id)
        return None if version is None else self._versions[model_id][version].definition

    # -- writing --------------------------------------------------------------------------
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
    ) -> CandidateRecord:
        """Record a run; with ``register`` also store a copy as a new version (no alias moves)."""
        run_id = f"{self.name}-run-{next(self._run_ids)}"
        version = None
        if register:
            versions = self._versions.setdefault(model_id, {})
            version = str(len(versions) + 1)
            versions[version] = _Version(
                model=copy.deepcopy(model),
                ewc_state=copy.deepcopy(ewc_state),
                run_id=run_id,
                tags={k: str(v) for k, v in tags.items()},
                definition=definition,
            )
            if "regime" in tags:
                self._model_tags.setdefault(model_id, {})["regime"] = str(tags["regime"])
        self._runs.append(
            RunRecord(
                run_id=run_id,
                model_id=model_id,
                version=version,
                params=dict(params),
                metrics={k: float(v) for k, v in metrics.items()},
                tags={k: str(v) for k, v in tags.items()},
            )
        )
        return CandidateRecord(run_id=run_id, version=version)

    def promote(self, *, model_id: str, version: str) -> Promotion:
        """Point ``champion`` at ``version``, remembering the version it replaces."""
        version = str(version)
        if version not in self._versions.get(model_id, {}):
            raise ModelNotFoundError(f"model {model_id!r} has no version {version}")
        aliases = self._aliases.setdefault(model_id, {})
        previous = aliases.get(CHAMPION_ALIAS)
        if previous == version:
            return Promotion(model_id, version, previous)
        if previous is not None:
            aliases[PREVIOUS_CHAMPION_ALIAS] = previous
            self._versions[model_id][version].tags["previous_champion"] = previous
        self._versions[model_id][version].tags[PROMOTED_AT_TAG] = promoted_at_text()
        aliases[CHAMPION_ALIAS] = version
        return Promotion(model_id, version, previous)

    def challenger_version(self, model_id: str) -> str | None:
        """The version ``challenger`` points to, or None."""
        return self.alias_version(model_id, CHALLENGER_ALIAS)

    def name_challenger(self, *, model_id: str, version: str) -> None:
        """Point ``challenger`` at ``version`` (the champion does not move)."""
        if str(version) not in self._versions.get(model_id, {}):
            raise ModelNotFoundError(f"model {model_id!r} has no version {version}")
        self._aliases.setdefault(model_id, {})[CHALLENGER_ALIAS] = str(version)

    def clear_challenger(self, *, model_id: str) -> None:
        """Remove the ``challenger`` alias (nothing happens when there is none)."""
        self._aliases.get(model_id, {}).pop(CHALLENGER_ALIAS, None)

    def rollback(self, *, model_id: str) -> Promotion:
        """Move ``champion`` back to the version it replaced (one step per call)."""
        current = self.champion_version(model_id)
        previous = self.alias_version(model_id, PREVIOUS_CHAMPION_ALIAS)
        if current is None or previous is None:
            raise ModelNotFoundError(f"model {model_id!r} has no earlier champion to roll back to")
        aliases = self._aliases[model_id]
        before = self._versions[model_id][previous].tags.get("previous_champion")
        self._versions[model_id][previous].tags[PROMOTED_AT_TAG] = promoted_at_text()
        aliases[CHAMPION_ALIAS] = previous
        if before:
            aliases[PREVIOUS_CHAMPION_ALIAS] = before
        else:
            del aliases[PREVIOUS_CHAMPION_ALIAS]
        self._versions[model_id][current].tags["rolled_back"] = "true"
        return Promotion(model_id, previous, current)
