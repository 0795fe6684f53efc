"""The team's code a registered version carries, so it loads where that code is not installed.

A version whose network or feature function is a team's entry point ships the entry point's
top-level package (or single module) with it (MLflow ``code_paths``): loading the version puts
that code on ``sys.path`` first, so ``mlflow.pytorch.load_model("models:/<id>@champion")``
works in a fresh process, on a serving replica or a worker, without the team's package
installed. Code that comes from an installed distribution (a wheel: ``lightgbm``, the team's
own published package) is not copied: it is a requirement, installed where the platform runs.
"""

from __future__ import annotations

import importlib.util
import site
import sysconfig
from functools import cache
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
    paths: list[str] = []
    for entry in (definition.entry, definition.features):
        if not entry or entry == BUILTIN:
            continue
        top = entry.split(":", 1)[0].split(".", 1)[0]
        if top in _PLATFORM:
            continue
        spec = importlib.util.find_spec(top)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))).resolve()
        elif spec.origin and spec.origin.endswith(".py"):
            path = Path(spec.origin).resolve()
        else:  # a compiled or built-in module: installed, not copied
            continue
        if _installed(path) or str(path) in paths:
            continue
        paths.append(str(path))
    return paths


def _installed(path: Path) -> bool:
    """Whether ``path`` lies in an installation folder (the standard library or a
    site-packages): looked up by location, not by listing every distribution (1.5 s here)."""
    return any(path.is_relative_to(root) for root in _installation_roots()) or bool(
        {"site-packages", "dist-packages"} & set(path.parts)
    )


@cache
def _installation_roots() -> frozenset[Path]:
    found = sysconfig.get_paths()
    roots = {Path(found[k]).resolve() for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return frozenset(roots | {Path(p).resolve() for p in site.getsitepackages()})
