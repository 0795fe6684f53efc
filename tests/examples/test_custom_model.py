"""examples/custom_model: the commands of its README, as processes, from a copy of the folder."""

from __future__ import annotations

import json

from tests.utils.examples import copy_example, python_elsewhere, run


def test_the_example_trains_updates_and_its_champion_loads_without_its_code(tmp_path):
    folder, env = copy_example("custom_model", tmp_path)

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

    db = tmp_path / "home" / "mlflow.db"
    script = (
        "import mlflow.pytorch, numpy as np; "
        f"mlflow.set_tracking_uri('sqlite:///{db}'); "
        "m = mlflow.pytorch.load_model('models:/momentum_gru@champion'); "
        "print(m.feature_names, m.predict_proba(np.zeros((2, 20, 4), np.float32)).shape)"
    )
    loaded = python_elsewhere(tmp_path, env, script)
    assert loaded.returncode == 0, loaded.stderr
    assert "('mom_5', 'mom_20', 'vol_20', 'mean_reversion_1') (2,)" in loaded.stdout
