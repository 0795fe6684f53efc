"""examples/lightgbm_model: the commands of its README, as processes, from a copy of the folder."""

from __future__ import annotations

import json

from tests.utils.examples import copy_example, python_elsewhere, run


def test_the_lightgbm_example_trains_updates_and_its_champion_loads_without_its_code(tmp_path):
    folder, env = copy_example("lightgbm_model", tmp_path)

    trained = run(folder, env, "train", "--start", "2015-01-02", "--end", "2019-06-28")
    assert trained.returncode == 0, trained.stderr
    assert "lgbm_direction" in trained.stdout and "lgbm_refit" in trained.stdout
    updated = run(folder, env, "update", "--as-of", "2019-09-30", "--json")
    assert updated.returncode in (0, 3), updated.stderr
    outcomes = {o["model_id"]: o for o in json.loads(updated.stdout)}
    assert set(outcomes) == {"lgbm_direction", "lgbm_refit"}
    for outcome in outcomes.values():
        assert outcome["decision"] in ("promoted", "rolled_back"), outcome
        assert outcome["sharpe_post"] is not None, outcome  # judged by the gate
    listed = run(folder, env, "models")
    assert "lgbm_direction" in listed.stdout

    db = tmp_path / "home" / "mlflow.db"
    script = (
        "import mlflow.pyfunc, numpy as np, pandas as pd; "
        f"mlflow.set_tracking_uri('sqlite:///{db}'); "
        "m = mlflow.pyfunc.load_model('models:/lgbm_direction@champion'); "
        "cols = ['mom_5', 'mom_20', 'vol_20', 'reversal_1', 'mom_20_rank']; "
        "print(m.loader_module, np.asarray(m.predict(pd.DataFrame(np.zeros((2, 5)), "
        "columns=cols))).shape)"
    )
    loaded = python_elsewhere(tmp_path, env, script)
    assert loaded.returncode == 0, loaded.stderr
    assert "mlflow.lightgbm (2,)" in loaded.stdout
