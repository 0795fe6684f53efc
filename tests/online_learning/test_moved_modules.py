"""Old import paths of the modules that moved into subpackages still work, as the same objects."""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys

import pytest

from online_learning._moved import MOVED


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_old_path_is_the_new_module(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_from_import_of_an_old_path_gives_the_same_class():
    from online_learning.ewc import EWCState as Old

    from online_learning.update.ewc import EWCState as New

    assert Old is New


def test_old_path_works_in_a_fresh_process_before_the_new_one_is_imported():
    code = (
        "import sys\n"
        "from online_learning.incremental_trainer import OnlineLearner\n"
        "new = 'online_learning.update.incremental_trainer'\n"
        "print(OnlineLearner.__module__, new in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["online_learning.update.incremental_trainer", "True"]


def test_objects_pickled_under_an_old_path_load():
    from online_learning.update.config import IncrementalUpdateConfig

    config = IncrementalUpdateConfig(model_id="bull_specialist")
    # A pickle written before the move names the old module path (protocol 0 is text, so the
    # path can be swapped without touching frame lengths).
    new, old = b"online_learning.update.config", b"online_learning.config"
    blob = pickle.dumps(config, protocol=0).replace(new, old)
    assert b"online_learning.config" in blob
    assert pickle.loads(blob) == config


def test_an_unknown_module_is_still_an_import_error():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("online_learning.no_such_module")
