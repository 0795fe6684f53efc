"""Old import paths of modules that moved into subpackages keep working.

The library's top level used to be a flat list of modules; the update path now lives in
:mod:`online_learning.update` and the feedback path in :mod:`online_learning.feedback`.
Scripts, notebooks and pickles that name an old path (``online_learning.ewc``,
``online_learning.incremental_trainer``, ...) get the very same module object under the old
name, so classes, ``isinstance`` checks and monkeypatches agree whichever name was used.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

#: Old module path -> where it lives now.
MOVED: dict[str, str] = {
    **{
        f"online_learning.{name}": f"online_learning.update.{name}"
        for name in (
            "bootstrap",
            "config",
            "ewc",
            "incremental_trainer",
            "integrity",
            "outcomes",
            "performance",
            "stability_checker",
            "training",
            "window",
        )
    },
    "online_learning.update_service": "online_learning.update.service",
    "online_learning.drift": "online_learning.feedback.drift",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        # The module object of the new path; import machinery files it under the old name too.
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was executed under its new name."""


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # type: ignore[override]
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
