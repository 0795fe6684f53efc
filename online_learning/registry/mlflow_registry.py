"""The model registry on MLflow: versions, the ``champion`` alias and EWC state artifacts.

This module is the one place in the library that imports MLflow; everything else talks to the
:class:`~online_learning.registry.base.ModelRegistry` protocol.

MLflow keeps no history of an alias, so promotion records it: before ``champion`` moves, the
version it pointed to gets the ``previous-champion`` alias, and the new version a
``previous_champion`` tag. :meth:`MlflowRegistry.rollback` walks that chain back.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import logging
import math
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import mlflow
import mlflow.pytorch
import torch
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from torch import nn

from online_learning.errors import ModelNotFoundError, RegistryError
from online_learning.ewc import EWCState
from online_learning.models.code import team_code_paths
from online_learning.models.definition import ModelDefinition
from online_learning.models.estimator import ContractEstimator, flavor_of
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

EWC_ARTIFACT = "ewc/ewc_state.pt"
DEFINITION_ARTIFACT = "definition/definition.json"
#: An estimator's output scale and flavour (its definition says the rest).
ESTIMATOR_ARTIFACT = "estimator/contract.json"
_PIP_REQUIREMENTS = [f"torch=={torch.__version__.split('+')[0]}", "numpy"]


def _requirement(distribution: str) -> str:
    return f"{distribution}=={importlib.metadata.version(distribution)}"


def _flavor_module(flavor: str):
    """MLflow's module of an estimator's flavour (``lightgbm`` or ``sklearn``)."""
    if flavor == "lightgbm":
        import mlflow.lightgbm

        return mlflow.lightgbm
    import mlflow.sklearn

    return mlflow.sklearn


def _log_estimator(model: ContractEstimator, code_paths: list[str] | None, **kwargs):
    """Log the team's estimator with MLflow's own flavour for it (``mlflow.pyfunc`` loads it
    anywhere)."""
    flavor = flavor_of(model.estimator)
    requirements = ["numpy", _requirement("scikit-learn")]
    if flavor == "lightgbm":
        requirements.append(_requirement("lightgbm"))
    return _flavor_module(flavor).log_model(
        model.estimator,
        name="model",
        pip_requirements=requirements,
        # skops (MLflow's default here) loads only the types it is told to trust, never
        # arbitrary code; those of the estimator we fitted are the ones it needs.
        skops_trusted_types=_types_to_trust(model.estimator),
        code_paths=code_paths,
        **kwargs,
    )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence MLflow's narration of a registration (printed to stderr, not logged) and its
    warning that pickled models run code when loaded: we load only models we pickled."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def _not_found(exc: MlflowException) -> bool:
    return exc.error_code == "RESOURCE_DOES_NOT_EXIST" or exc.get_http_status_code() == 404


class MlflowRegistry:
    """Model registry backed by an MLflow tracking server or a local SQLite store.

    Parameters
    ----------
    tracking_uri : str
        e.g. ``sqlite:////data/mlflow.db`` or ``http://mlflow:5000``.
    artifact_location : str or None
        Artifact root of the experiment when it is created (the embedded default uses a local
        folder; a server decides its own when this is None).
    experiment_name : str
        Experiment under which update runs are logged.
    """

    def __init__(
        self,
        tracking_uri: str,
        artifact_location: str | None = None,
        experiment_name: str = "online-learning",
    ) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        self.experiment_name = experiment_name
        self._client: MlflowClient | None = None
        self._experiment_id: str | None = None

    @classmethod
    def from_settings(cls, settings) -> MlflowRegistry:
        """Build the registry the settings describe, creating the local data folder if used."""
        if settings.artifact_location is not None:
            settings.home.expanduser().mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(
            settings.tracking_uri,
            artifact_location=settings.artifact_location,
            experiment_name=settings.experiment_name,
        )

    # -- plumbing -------------------------------------------------------------------------
    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            # Name both URIs: mlflow.set_registry_uri() (used by the fluent API) also exports
            # MLFLOW_REGISTRY_URI, which a client would otherwise prefer, and child processes
            # inherit it.
            self._client = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
            )
        return self._client

    def _activate(self) -> None:
        # The fluent API (start_run, log_model, load_model) reads the process-wide URI.
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)

    def _experiment(self) -> str:
        if self._experiment_id is None:
            found = self.client.get_experiment_by_name(self.experiment_name)
            if found is None:
                try:
                    self._experiment_id = self.client.create_experiment(
                        self.experiment_name, artifact_location=self.artifact_location
                    )
                except MlflowException as exc:  # created concurrently by another process
                    if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                        raise
                    found = self.client.get_experiment_by_name(self.experiment_name)
            if found is not None:
                self._experiment_id = found.experiment_id
        return self._experiment_id

    # -- reading --------------------------------------------------------------------------
    def champion_version(self, model_id: str) -> str | None:
        """The version ``champion`` points to, or None when there is none."""
        return self._alias_version(model_id, CHAMPION_ALIAS)

    def _alias_version(self, model_id: str, alias: str) -> str | None:
        # A missing alias is reported as INVALID_PARAMETER_VALUE by some stores, so read the
        # model's alias map rather than interpreting error codes.
        try:
            aliases = self.client.get_registered_model(model_id).aliases or {}
        except MlflowException as exc:
            if _not_found(exc):
                return None
            raise RegistryError(
                f"could not read {model_id!r} from {self.tracking_uri}: {exc}"
            ) from exc
        version = aliases.get(alias)
        return None if version is None else str(version)

    def list_models(self) -> list[dict[str, str | None]]:
        """Registered models with their champion and challenger versions and regime tag."""
        rows = []
        try:
            found = self.client.search_registered_models()
        except MlflowException as exc:
            raise RegistryError(f"could not list models at {self.tracking_uri}: {exc}") from exc
        for model in found:
            rows.append(
                {
                    "model_id": model.name,
                    "champion": _version_of(model.aliases, CHAMPION_ALIAS),
                    "challenger": _version_of(model.aliases, CHALLENGER_ALIAS),
                    "regime": (model.tags or {}).get("regime"),
                }
            )
        return sorted(rows, key=lambda row: row["model_id"])

    def champion_definition(self, model_id: str) -> ModelDefinition | None:
        """The definition the champion carries (None: no champion, or registered without one),
        read without loading the model."""
        version = self.champion_version(model_id)
        if version is None:
            return None
        try:
            run_id = self.client.get_model_version(model_id, version).run_id
        except MlflowException as exc:
            raise RegistryError(f"could not read {model_id} v{version}: {exc}") from exc
        with tempfile.TemporaryDirectory() as tmp:
            path = self._artifact(run_id, DEFINITION_ARTIFACT, tmp)
            return None if path is None else ModelDefinition.from_json(path.read_text())

    def load_champion(self, model_id: str) -> LoadedModel:
        """Load the model ``champion`` points to, with its EWC state."""
        version = self.champion_version(model_id)
        if version is None:
            raise ModelNotFoundError(
                f"model {model_id!r} has no {CHAMPION_ALIAS!r} version in the registry at "
                f"{self.tracking_uri}; bootstrap it first with `online-learning train`"
            )
        return self.load_version(model_id, version)

    def load_version(self, model_id: str, version: str) -> LoadedModel:
        """Load one registered version with its EWC state and tags."""
        try:
            info = self.client.get_model_version(model_id, str(version))
        except MlflowException as exc:
            if _not_found(exc):
                raise ModelNotFoundError(f"model {model_id!r} has no version {version}") from exc
            raise RegistryError(f"could not read {model_id} v{version}: {exc}") from exc
        self._activate()
        ewc_state, contract = None, None
        with tempfile.TemporaryDirectory() as tmp:
            path = self._artifact(info.run_id, DEFINITION_ARTIFACT, tmp)
            definition = None if path is None else ModelDefinition.from_json(path.read_text())
            # Only what the kind of model has: a network its EWC state, an estimator its
            # output scale and flavour.
            if definition is not None and definition.kind == "estimator":
                path = self._artifact(info.run_id, ESTIMATOR_ARTIFACT, tmp)
                contract = {} if path is None else json.loads(path.read_text())
            else:
                path = self._artifact(info.run_id, EWC_ARTIFACT, tmp)
                ewc_state = None if path is None else EWCState.load(path)
        uri = f"models:/{model_id}/{version}"
        try:
            if contract is None:
                model = mlflow.pytorch.load_model(uri)
            else:
                model = _load_estimator(uri, contract, definition)
        except (MlflowException, OSError, ImportError) as exc:
            raise RegistryError(f"could not load {model_id} v{version}: {exc}") from exc
        return LoadedModel(
            model_id=model_id,
            version=str(version),
            model=model,
            ewc_state=ewc_state,
            tags=dict(info.tags or {}),
            definition=definition,
        )

    def _artifact(self, run_id: str, artifact: str, folder: str) -> Path | None:
        """A run's artifact downloaded into ``folder``, or None when the run has none."""
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=artifact, dst_path=folder,
                tracking_uri=self.tracking_uri,
            )  # fmt: skip
        except (MlflowException, OSError):
            return None
        return Path(path) if Path(path).exists() else None

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
        """Log a training run; with ``register`` also create a model version (no alias moves).

        A registered version carries its EWC state, its ``definition`` (``definition.json``)
        and the team's code the definition names (MLflow ``code_paths``, see
        :mod:`online_learning.models.code`), so it loads without that code installed. A
        rejected candidate is logged with ``register=False``: its run keeps the numbers for
        audit, but it never becomes a version.
        """
        self._activate()
        experiment_id = self._experiment()
        clean_metrics = {k: float(v) for k, v in metrics.items() if _is_number(v)}
        try:
            with mlflow.start_run(experiment_id=experiment_id, run_name=model_id) as run:
                mlflow.log_params({k: _param(v) for k, v in params.items()})
                mlflow.log_metrics(clean_metrics)
                mlflow.set_tags({"model_id": model_id, **tags})
                version = None
                if register:
                    with tempfile.TemporaryDirectory() as tmp:
                        if ewc_state is not None:
                            local = Path(tmp) / Path(EWC_ARTIFACT).name
                            ewc_state.save(local)
                            mlflow.log_artifact(str(local), artifact_path="ewc")
                        if definition is not None:
                            local = Path(tmp) / Path(DEFINITION_ARTIFACT).name
                            local.write_text(definition.to_json())
                            mlflow.log_artifact(str(local), artifact_path="definition")
                        if isinstance(model, ContractEstimator):  # its output scale, flavour
                            local = Path(tmp) / Path(ESTIMATOR_ARTIFACT).name
                            local.write_text(json.dumps({
                                "flavor": flavor_of(model.estimator),
                                "target_scale": model.target_scale,
                            }))  # fmt: skip
                            mlflow.log_artifact(str(local), artifact_path="estimator")
                    code_paths = team_code_paths(definition) if definition else None
                    with _quiet():
                        if isinstance(model, ContractEstimator):
                            info = _log_estimator(model, code_paths, registered_model_name=model_id)
                        else:
                            info = mlflow.pytorch.log_model(
                                model,
                                name="model",
                                registered_model_name=model_id,
                                pip_requirements=_PIP_REQUIREMENTS,
                                serialization_format="pickle",
                                code_paths=code_paths,
                            )
                    version = str(info.registered_model_version)
                    for key, value in tags.items():
                        self.client.set_model_version_tag(model_id, version, key, str(value))
                    if "regime" in tags:
                        self.client.set_registered_model_tag(model_id, "regime", tags["regime"])
        except MlflowException as exc:
            raise RegistryError(
                f"could not log {model_id!r} to {self.tracking_uri}: {exc}"
            ) from exc
        return CandidateRecord(run_id=run.info.run_id, version=version)

    def promote(self, *, model_id: str, version: str) -> Promotion:
        """Point ``champion`` at ``version``, remembering the version it replaces."""
        previous = self.champion_version(model_id)
        if previous == str(version):
            return Promotion(model_id, str(version), previous)
        try:
            if previous is not None:
                self.client.set_registered_model_alias(model_id, PREVIOUS_CHAMPION_ALIAS, previous)
                self.client.set_model_version_tag(
                    model_id, str(version), "previous_champion", previous
                )
            self.client.set_model_version_tag(
                model_id, str(version), PROMOTED_AT_TAG, promoted_at_text()
            )
            self.client.set_registered_model_alias(model_id, CHAMPION_ALIAS, str(version))
        except MlflowException as exc:
            raise RegistryError(f"could not promote {model_id} v{version}: {exc}") from exc
        return Promotion(model_id, str(version), previous)

    def challenger_version(self, model_id: str) -> str | None:
        """The version ``challenger`` points to, or None."""
        return self._alias_version(model_id, CHALLENGER_ALIAS)

    def name_challenger(self, *, model_id: str, version: str) -> None:
        """Point ``challenger`` at ``version`` (the champion does not move)."""
        try:
            self.client.set_registered_model_alias(model_id, CHALLENGER_ALIAS, str(version))
        except MlflowException as exc:
            raise RegistryError(f"could not name {model_id} v{version} challenger: {exc}") from exc

    def clear_challenger(self, *, model_id: str) -> None:
        """Remove the ``challenger`` alias (nothing happens when there is none)."""
        if self.challenger_version(model_id) is None:
            return
        try:
            self.client.delete_registered_model_alias(model_id, CHALLENGER_ALIAS)
        except MlflowException as exc:
            raise RegistryError(f"could not retire {model_id}'s challenger: {exc}") from exc

    def rollback(self, *, model_id: str) -> Promotion:
        """Move ``champion`` back to the version it replaced (one step per call)."""
        current = self.champion_version(model_id)
        previous = self._alias_version(model_id, PREVIOUS_CHAMPION_ALIAS)
        if current is None or previous is None:
            raise ModelNotFoundError(f"model {model_id!r} has no earlier champion to roll back to")
        try:
            before = self.client.get_model_version(model_id, previous).tags.get("previous_champion")
            self.client.set_model_version_tag(model_id, previous, PROMOTED_AT_TAG,
                                              promoted_at_text())  # fmt: skip
            self.client.set_registered_model_alias(model_id, CHAMPION_ALIAS, previous)
            if before:
                self.client.set_registered_model_alias(model_id, PREVIOUS_CHAMPION_ALIAS, before)
            else:
                self.client.delete_registered_model_alias(model_id, PREVIOUS_CHAMPION_ALIAS)
            self.client.set_model_version_tag(model_id, current, "rolled_back", "true")
        except MlflowException as exc:
            raise RegistryError(f"could not roll back {model_id}: {exc}") from exc
        return Promotion(model_id, previous, current)


def _version_of(aliases: Mapping[str, object] | None, alias: str) -> str | None:
    """The version ``alias`` points to in an alias map, as a string (MLflow gives ints)."""
    version = (aliases or {}).get(alias)
    return None if version is None else str(version)


def _types_to_trust(estimator: object) -> list[str]:
    from skops.io import dumps, get_untrusted_types

    return get_untrusted_types(data=dumps(estimator))


def _load_estimator(uri: str, contract: dict, definition: ModelDefinition) -> ContractEstimator:
    return ContractEstimator(
        _flavor_module(contract.get("flavor", "sklearn")).load_model(uri),
        feature_names=definition.feature_names,
        target=definition.target,
        target_scale=float(contract.get("target_scale", 1.0)),
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _param(value: object) -> str:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return str(value)
