"""The deployments of ``prefect.yaml``, for serving without a work pool.

``prefect.yaml`` is the one description of the deployments: ``prefect deploy --all`` reads it
to register them for a work pool, and :func:`load_deployments` reads it to serve the same
deployments (name, entrypoint, schedules, triggers, parameters, tags, description) from one
process (:mod:`flows.serve`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.events.schemas.deployment_triggers import DeploymentTriggerTypes
from prefect.flows import Flow
from prefect.schedules import Cron
from prefect.utilities.importtools import import_object
from pydantic import TypeAdapter

#: ``<flow name>/<deployment name>`` of the two deployments.
DAILY_UPDATE = "daily-update/daily-update"
DRIFT_ADAPTATION = "adaptation/drift-adaptation"
DEPLOYMENT_NAMES: tuple[str, ...] = (DAILY_UPDATE, DRIFT_ADAPTATION)

_TRIGGERS = TypeAdapter(list[DeploymentTriggerTypes])


def default_prefect_yaml() -> Path:
    """``prefect.yaml`` of this package (installed with it; the repository's root links to it,
    where ``prefect deploy --all`` looks)."""
    return Path(__file__).resolve().parent / "prefect.yaml"


def read_deployment_specs(prefect_yaml: Path | None = None) -> list[dict[str, Any]]:
    """The ``deployments:`` entries of ``prefect.yaml``, with YAML aliases resolved."""
    path = Path(prefect_yaml or default_prefect_yaml())
    document = yaml.safe_load(path.read_text())
    return list(document.get("deployments") or [])


def load_deployments(
    prefect_yaml: Path | None = None, *, drift_cooldown_s: float | None = None
) -> list[RunnerDeployment]:
    """One :class:`RunnerDeployment` per entry of ``prefect.yaml`` (work pools ignored).

    ``drift_cooldown_s`` replaces the triggers' ``within`` (the yaml's four hours), so that a
    served drift trigger throttles as the feedback service's cool-down does."""
    specs = read_deployment_specs(prefect_yaml)
    if drift_cooldown_s is not None:
        specs = [with_cooldown(spec, drift_cooldown_s) for spec in specs]
    return [to_runner_deployment(spec) for spec in specs]


def with_cooldown(spec: dict[str, Any], seconds: float) -> dict[str, Any]:
    """``spec`` with ``seconds`` as the ``within`` of each trigger that has one.

    Examples
    --------
    >>> spec = {"name": "d", "triggers": [{"type": "event", "within": 14400}]}
    >>> with_cooldown(spec, 10.0)["triggers"], spec["triggers"][0]["within"]
    ([{'type': 'event', 'within': 10.0}], 14400)
    """
    triggers = [
        {**t, "within": seconds} if "within" in t else t for t in spec.get("triggers") or []
    ]
    return {**spec, "triggers": triggers} if triggers else spec


def to_runner_deployment(spec: dict[str, Any]) -> RunnerDeployment:
    flow = import_object(spec["entrypoint"])
    if not isinstance(flow, Flow):
        raise TypeError(f"{spec['entrypoint']} is not a Prefect flow")
    schedules = [
        Cron(s["cron"], **{k: v for k, v in s.items() if k != "cron"})
        for s in spec.get("schedules") or []
    ]
    return flow.to_deployment(
        name=spec["name"],
        schedules=schedules,
        triggers=_TRIGGERS.validate_python(spec.get("triggers") or []),
        parameters=spec.get("parameters") or {},
        description=spec.get("description"),
        tags=spec.get("tags"),
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
