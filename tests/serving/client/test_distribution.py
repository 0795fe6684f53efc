"""The client distribution alone: its wheel installed in a fresh venv (no torch, Prefect, MLflow,
numpy or pandas) trades against the live platform with typed answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from online_learning.prediction import features_from_bars
from tests.serving.client.helpers import bars_of
from tests.utils.api_keys import TRADER

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
#: What the platform needs and an agent must not have to install.
HEAVY = ("torch", "prefect", "mlflow", "numpy", "pandas", "sqlalchemy", "fastapi", "river")

AGENT = """
import json, sys
from datetime import UTC, datetime
import online_learning_client
from online_learning_client import Client, Model, OutcomeResult, Prediction, Ready, Session

url, key, features = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with Client(url, key) as client:
    ready = client.ready()
    prediction = client.predict("SIM0", features=features)
    models = client.models()
    outcome = {
        "schema_version": 1, "trade_id": "t-light-" + prediction.prediction_id,
        "symbol": "SIM0", "timestamp": datetime.now(UTC).isoformat(),
        "model_id": prediction.batch_model_id, "prediction_id": prediction.prediction_id,
        "features": prediction.features, "position": prediction.position,
        "realized_return": 0.004,
    }
    [result] = client.post_outcomes(outcome)
    [again] = client.post_outcomes(outcome)
    sessions = client.sessions()
typed = [isinstance(ready, Ready), isinstance(prediction, Prediction),
         all(isinstance(m, Model) for m in models), isinstance(result, OutcomeResult),
         all(isinstance(s, Session) for s in sessions)]
print(json.dumps({
    "typed": typed, "p_up": prediction.p_up, "champions": ready.champions,
    "models": sorted(m.model_id for m in models), "statuses": [result.status, again.status],
    "symbols": sorted(s.symbol for s in sessions),
    "modules": sorted({name.split(".")[0] for name in sys.modules}),
    "file": online_learning_client.__file__,
}))
"""


def _run(*command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, (
        f"{' '.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The client's wheel, built from the checkout, installed in a new venv."""
    work = tmp_path_factory.mktemp("client")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env = {k: v for k, v in env.items() if not k.startswith("ONLINE_LEARNING_")}
    # Built from a copy: setuptools writes its build folder into the source tree.
    source = work / "source"
    skipped = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT / "serving" / "client", source, ignore=skipped)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"),
         str(source), cwd=work, env=env)  # fmt: skip
    [wheel] = (work / "dist").glob("online_learning_client-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"online_learning_client/py.typed", "online_learning_client/models.py"} <= names
    assert all(n.startswith("online_learning_client") for n in names), sorted(names)
    _run(sys.executable, "-m", "venv", str(work / "venv"), cwd=work, env=env)
    python = str(work / "venv" / "bin" / "python")
    _run(python, "-m", "pip", "install", "--quiet", str(wheel), cwd=work, env=env)
    return work, env


def test_the_client_alone_installs_light(light_venv):
    work, env = light_venv
    listed = _run(str(work / "venv" / "bin" / "python"), "-m", "pip", "list", "--format=json",
                  cwd=work, env=env)  # fmt: skip
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listed.stdout)}
    assert {"online-learning-client", "httpx", "websockets", "pydantic"} <= installed
    assert not installed & set(HEAVY), sorted(installed)
    assert "online-learning" not in installed


def test_an_agent_on_the_client_alone_trades_with_typed_answers(
    light_venv, live, market_prices, tmp_path
):
    work, env = light_venv
    features = features_from_bars(bars_of(market_prices, "SIM0"))
    run = _run(str(work / "venv" / "bin" / "python"), "-c", AGENT, live.url, TRADER,
               json.dumps(features), cwd=tmp_path, env=env)  # fmt: skip
    report = json.loads(run.stdout.splitlines()[-1])

    assert report["typed"] == [True] * 5
    assert report["file"].startswith(str(work / "venv"))  # not the checkout's
    assert 0.0 < report["p_up"] < 1.0
    assert set(report["champions"]) == set(report["models"]) == {
        "bull_specialist", "bear_specialist", "sideways_specialist"
    }  # fmt: skip
    assert report["statuses"] == ["accepted", "duplicate"]
    assert "SIM0" in report["symbols"]
    assert not set(report["modules"]) & set(HEAVY), report["modules"]
