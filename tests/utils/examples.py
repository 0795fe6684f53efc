"""An example of ``examples/`` run as its README says: the console script, as processes, from
a copy of its folder with its package importable and a home of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLI = str(Path(sys.executable).with_name("online-learning"))


def copy_example(name: str, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The example's folder copied under ``tmp_path`` and the environment its commands run in
    (no setting of the caller's, ``ONLINE_LEARNING_HOME`` at ``tmp_path / "home"``)."""
    folder = tmp_path / "team"
    shutil.copytree(EXAMPLES / name, folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONLINE_LEARNING_", "MLFLOW"))}
    env |= {"ONLINE_LEARNING_HOME": str(tmp_path / "home"), "PYTHONPATH": str(folder)}
    return folder, env


def run(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``online-learning *args`` in ``folder``."""
    return subprocess.run(
        [CLI, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=900,
        check=False,
    )  # fmt: skip


def python_elsewhere(tmp_path: Path, env: dict[str, str], script: str):
    """``python -c script`` outside the example's folder and without its package."""
    elsewhere = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=elsewhere, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
