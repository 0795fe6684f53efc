"""examples/custom_model: the commands of its README, as processes, from a copy of the folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_model"
CLI = str(Path(sys.executable).with_name("online-learning"))


def run(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=900,
        check=False,
    )  # fmt: skip


def test_the_example_trains_updates_and_its_champion_loads_without_its_code(tmp_path):
    folder = tmp_path / "team"
    shutil.copytree(EXAMPLE, folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONLINE_LEARNING_", "MLFLOW"))}
    env |= {"ONLINE_LEARNING_HOME": str(tmp_path / "home"), "PYTHONPATH": str(folder)}

    trained = run(folder, env, "train", "--start", "2015-01-02", "--end", "2019-06-28")
    assert trained.returncode == 0, trained.stderr
    assert "momentum_gru" in trained.stdout
    updated = run(folder, env, "update", "--as-of", "2019-09-30", "--json")
    assert updated.returncode in (0, 3), updated.stderr
    [outcome] = json.loads(updated.stdout)
    assert outcome["model_id"] == "momentum_gru"
    assert outcome["decision"] in ("promoted", "rolled_back"), outcome
    listed = run(folder, env, "models")
    assert "momentum_gru" in listed.stdout

    elsewhere = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    db = tmp_path / "home" / "mlflow.db"
    script = (
        "import mlflow.pytorch, numpy as np; "
        f"mlflow.set_tracking_uri('sqlite:///{db}'); "
        "m = mlflow.pytorch.load_model('models:/momentum_gru@champion'); "
        "print(m.feature_names, m.predict_proba(np.zeros((2, 20, 4), np.float32)).shape)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=elsewhere, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert "('mom_5', 'mom_20', 'vol_20', 'mean_reversion_1') (2,)" in loaded.stdout
