"""The team's code a registered version carries, so it loads where that code is not installed.

A version whose network or feature function is a team's entry point ships the entry point's
top-level package (or single module) with it (MLflow ``code_paths``): loading the version puts
that code on ``sys.path`` first, so ``mlflow.pytorch.load_model("models:/<id>@champion")``
works in a fresh process, on a serving replica or a worker, without the team's package
installed. Code that comes from an installed distribution (a wheel: ``lightgbm``, the team's
own published package) is not copied: it is a requirement, installed where the platform runs.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from online_learning.models.definition import BUILTIN, ModelDefinition

__all__ = ["team_code_paths"]

#: Packages of the platform itself, installed wherever a version is loaded.
_PLATFORM = frozenset({"online_learning", "flows", "serving", "feedback", "cli"})


def team_code_paths(definition: ModelDefinition) -> list[str]:
    """The folders (packages) and files (modules) of the team's code ``definition`` names.

    Examples
    --------
    >>> team_code_paths(ModelDefinition.builtin("bull_specialist"))
    []
    """
    installed = importlib.metadata.packages_distributions()
    paths: list[str] = []
    for entry in (definition.entry, definition.features):
        if not entry or entry == BUILTIN:
            continue
        top = entry.split(":", 1)[0].split(".", 1)[0]
        if top in _PLATFORM or top in installed:
            continue
        spec = importlib.util.find_spec(top)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            path = str(Path(next(iter(spec.submodule_search_locations))).resolve())
        elif spec.origin and spec.origin.endswith(".py"):
            path = str(Path(spec.origin).resolve())
        else:  # a compiled or built-in module: installed, not copied
            continue
        if path not in paths:
            paths.append(path)
    return paths
