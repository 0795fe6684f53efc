"""The champions being served, swapped whole when the registry's ``champion`` alias moves.

Swap, don't mutate: :meth:`ChampionHolder.refresh` loads a moved champion beside the one
serving, warms it with one forward pass, and only then replaces the holder's single reference
to an immutable :class:`ChampionSet`. A prediction takes :meth:`ChampionHolder.snapshot` once
and finishes with the models of that snapshot, whatever refreshes happen meanwhile; the old
models are freed when the last prediction holding them is done.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

import numpy as np
import torch
from torch import nn

from online_learning.errors import OnlineLearningError
from online_learning.models.estimator import ContractEstimator
from online_learning.prediction.errors import (
    ChampionLoadError,
    NoChampions,
    NoEnsemble,
    UnknownModel,
)
from online_learning.prediction.stacked import StackedForward
from online_learning.registry.base import (
    PROMOTED_AT_TAG,
    TRAINED_THROUGH_TAG,
    ModelRegistry,
    tag_date,
    tag_time,
)
from online_learning.specialists import SPECIALISTS, regime_of
from online_learning.success.freshness import ServedChampion

__all__ = ["Champion", "ChampionHolder", "ChampionSet", "served_from_tags", "served_p_up"]


@dataclass(frozen=True)
class Champion:
    """One loaded, warmed champion version: ``p_up`` for a matrix of feature rows.

    ``trained_through`` (the last day of data it trained on) and ``promoted_at`` come from
    its version's tags (None for a version registered without them); ``loaded_at`` is when
    this process loaded it. The success metrics' freshness reads them (:meth:`served`).
    """

    model_id: str
    version: str
    model: nn.Module | ContractEstimator
    feature_names: tuple[str, ...]
    regime: str | None = None
    freshness: ServedChampion | None = None

    def served(self) -> ServedChampion:
        """What the freshness metrics need of this champion (loaded now when not said)."""
        return self.freshness or served_from_tags(self.model_id, self.version, {})

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        """``p_up`` per row of a ``(n, len(feature_names))`` float32 matrix, in one forward.

        Thread-safe: the model is in eval mode and is only read (no train/eval toggling).
        """
        return served_p_up(self.model, rows)


def served_p_up(model: nn.Module | ContractEstimator, x: np.ndarray) -> np.ndarray:
    """``p_up`` (float64) of a served model for its inputs ``x`` (rows or sequences, float32).

    A network in eval mode is only read, under ``inference_mode`` (no train/eval toggling,
    so threads may share it); an estimator's ``predict_proba`` is its ``p_up``.
    """
    if not isinstance(model, nn.Module):
        return model.predict_proba(x).astype(np.float64)
    with torch.inference_mode():
        output = model(torch.from_numpy(x))
        to_p_up = getattr(model, "p_up", None)  # the contract's output rule
        p_up = to_p_up(output) if to_p_up else torch.softmax(output, dim=-1)[:, 1]
        return p_up.numpy().astype(np.float64)


@dataclass(frozen=True)
class ChampionSet:
    """An immutable set of champions, one per model id, that share their feature names."""

    champions: Mapping[str, Champion]
    feature_names: tuple[str, ...] = field(default=())
    _stacked: StackedForward | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "champions", MappingProxyType(dict(self.champions)))
        stacked = StackedForward.build([c.model for c in self.champions.values()])
        object.__setattr__(self, "_stacked", stacked)

    @property
    def stacked(self) -> bool:
        """True when one batched pass computes every champion (see ``stacked.py``)."""
        return self._stacked is not None

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        """``(n, len(self))`` ``p_up`` of every champion (in iteration order) for every row.

        One forward pass for all champions when they stack, else one per champion.
        """
        if self._stacked is not None:
            return self._stacked(rows)
        return np.column_stack([c.predict_proba(rows) for c in self.champions.values()])

    @property
    def versions(self) -> dict[str, str]:
        """``{model_id: version}`` of every champion served."""
        return {model_id: c.version for model_id, c in self.champions.items()}

    def __iter__(self) -> Iterator[Champion]:
        return iter(self.champions.values())

    def __len__(self) -> int:
        return len(self.champions)

    def get(self, model_id: str) -> Champion:
        """The champion of ``model_id``; :class:`UnknownModel` if it is not served."""
        try:
            return self.champions[model_id]
        except KeyError:
            raise UnknownModel(model_id, list(self.champions)) from None

    def replaced(self, new: Mapping[str, Champion]) -> ChampionSet:
        """A copy with the champions of ``new`` in place of (or beside) the current ones."""
        merged = {**self.champions, **new}
        names = next(iter(merged.values())).feature_names if merged else ()
        return ChampionSet(merged, names)


def _load(registry: ModelRegistry, model_id: str, version: str) -> Champion:
    loaded = registry.load_version(model_id, version)
    model = loaded.model
    names = getattr(model, "feature_names", None)
    if not names:
        raise OnlineLearningError(f"{model_id} v{version} does not say its feature_names")
    model.eval()  # once, here: predictions never toggle the mode of a shared model
    champion = Champion(
        model_id=model_id,
        version=str(loaded.version),
        model=model,
        feature_names=tuple(names),
        regime=loaded.tags.get("regime") or regime_of(model_id),
        freshness=served_from_tags(model_id, str(loaded.version), loaded.tags),
    )
    # Warm: the first forward pass of a fresh module is several times slower than the next.
    p_up = champion.predict_proba(np.zeros((1, len(champion.feature_names)), dtype=np.float32))
    if p_up.shape != (1,) or not np.isfinite(p_up).all():
        raise OnlineLearningError(f"{model_id} v{version} gives no finite p_up on a zero row")
    return champion


def served_from_tags(model_id: str, version: str, tags: Mapping[str, str]) -> ServedChampion:
    """A version loaded now, with the freshness its tags say (:class:`ServedChampion`)."""
    return ServedChampion(model_id, str(version), tag_date(tags.get(TRAINED_THROUGH_TAG)),
                          tag_time(tags.get(PROMOTED_AT_TAG)), datetime.now(UTC))  # fmt: skip


def _reference_names(current: ChampionSet, loaded: Mapping[str, Champion]) -> tuple[str, ...]:
    """The feature names every champion must share: those served, unless every served model
    is replaced at once by champions agreeing on new ones; else the first loaded."""
    new = {c.feature_names for c in loaded.values()}
    if current.champions and not (set(current.champions) <= set(loaded) and len(new) == 1):
        return current.feature_names
    return loaded[min(loaded)].feature_names if loaded else ()


class ChampionHolder:
    """Loads the ``champion`` of each specialist and swaps it when the alias moves.

    Thread-safe: one refresh runs at a time (a lock), readers call :meth:`snapshot`, which
    returns the current immutable set without locking.

    Parameters
    ----------
    registry : ModelRegistry
        Where the champions are read from (MLflow in production).
    model_ids : sequence of str, optional
        The models of the ensemble; the three regime specialists by default. Empty: no
        ensemble is served (every prediction names its model; :class:`NoEnsemble`).

    Examples
    --------
    >>> from online_learning.registry.memory import InMemoryRegistry
    >>> from online_learning.models import RegimeSpecialist
    >>> registry = InMemoryRegistry()
    >>> def publish(seed):
    ...     _ = torch.manual_seed(seed)
    ...     record = registry.log_candidate(model_id="bull_specialist",
    ...         model=RegimeSpecialist(["a", "b"], hidden=(4,)), ewc_state=None, params={},
    ...         metrics={}, tags={}, register=True)
    ...     return registry.promote(model_id="bull_specialist", version=record.version)
    >>> _ = publish(0)
    >>> holder = ChampionHolder(registry, model_ids=["bull_specialist"])
    >>> holder.load().versions
    {'bull_specialist': '1'}
    >>> before = holder.snapshot()
    >>> _ = publish(1)
    >>> holder.refresh(), holder.snapshot().versions, before.versions
    (['bull_specialist'], {'bull_specialist': '2'}, {'bull_specialist': '1'})
    >>> holder.refresh()
    []
    """

    def __init__(self, registry: ModelRegistry, model_ids: Sequence[str] | None = None) -> None:
        ids = tuple(SPECIALISTS) if model_ids is None else tuple(model_ids)
        if len(set(ids)) != len(ids):
            raise ValueError(f"model_ids must be distinct, got {ids!r}")
        self.registry = registry
        self.model_ids = ids
        self._set = ChampionSet({})
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """True once at least one champion is being served (always, with no ensemble)."""
        return len(self._set) > 0 or not self.model_ids

    @property
    def current(self) -> ChampionSet:
        """The champions serving now, possibly none (never raises)."""
        return self._set

    def snapshot(self) -> ChampionSet:
        """The champions serving now; :class:`NoChampions` before any was loaded."""
        current = self._set
        if not self.model_ids:
            raise NoEnsemble(
                "no ensemble is served (no configured model reads the built-in feature rows): "
                "name the model with model_id"
            )
        if not current.champions:
            raise NoChampions(
                f"no champion of {', '.join(self.model_ids)} is loaded; "
                "bootstrap them with `online-learning train`"
            )
        return current

    def load(self) -> ChampionSet:
        """Load every champion the registry has.

        Raises :class:`NoChampions` when none of the models has one, and
        :class:`ChampionLoadError` when one that has a champion could not be loaded (the
        others are loaded and served then: the caller decides whether to go on).
        """
        self._refresh(self.model_ids)
        if not self._set.champions and self.model_ids:
            raise NoChampions(
                f"the registry has no champion of {', '.join(self.model_ids)}; "
                "bootstrap them with `online-learning train`"
            )
        return self._set

    def refresh(self, model_id: str | None = None) -> list[str]:
        """Swap in the champions whose alias moved since they were loaded.

        Parameters
        ----------
        model_id : str, optional
            Check only this model (a ``model-updates`` event named it); all by default.

        Returns
        -------
        list of str
            The model ids swapped (empty when nothing moved).

        Raises
        ------
        UnknownModel
            For a ``model_id`` that is not served.
        ChampionLoadError
            When a moved champion could not be loaded or differs in its features; the old
            version of that model keeps serving, the others were swapped all the same
            (``error.swapped``). The next refresh tries it again.
        """
        if model_id is not None and model_id not in self.model_ids:
            raise UnknownModel(model_id, self.model_ids)
        return self._refresh(self.model_ids if model_id is None else (model_id,))

    def _refresh(self, model_ids: Sequence[str]) -> list[str]:
        with self._lock:
            current = self._set
            loaded: dict[str, Champion] = {}
            errors: dict[str, BaseException] = {}
            for model_id in model_ids:
                try:
                    version = self.registry.champion_version(model_id)
                    serving = current.champions.get(model_id)
                    if version is None or (serving is not None and serving.version == version):
                        # No alias (deleted, or never set): keep serving what is loaded.
                        continue
                    champion = _load(self.registry, model_id, version)
                except Exception as exc:
                    errors[model_id] = exc
                    continue
                loaded[model_id] = champion
            reference = _reference_names(current, loaded)
            for model_id, champion in sorted(loaded.items()):
                if champion.feature_names != reference:
                    errors[model_id] = OnlineLearningError(
                        f"{model_id} v{champion.version} reads {list(champion.feature_names)}, "
                        f"the champions served read {list(reference)}: not swapped in"
                    )
                    del loaded[model_id]
            if loaded:
                self._set = current.replaced(loaded)  # the swap: one reference
            swapped = sorted(loaded)
        if errors:
            raise ChampionLoadError(errors, swapped)
        return swapped
