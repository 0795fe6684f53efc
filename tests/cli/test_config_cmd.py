"""One layered configuration: the models' file also holds the platform's settings; a flag
outranks the environment, which outranks the file, which outranks the default;
``online-learning config`` says where each effective setting came from, secrets masked; a key
or a value the file gets wrong is refused with the file and the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import EXIT_ERROR, app

runner = CliRunner()

SECRET_KEY = "file-key-0123456789abcdef"
FILE = f"""\
[models.bull_specialist]
network = "online_learning.models.regime_network:RegimeNetwork"

[platform]
home = "{{home}}"
database_url = "postgresql://ol:pa55word@db.internal/metrics"

[feedback]
feedback_group = "desk-from-file"
feedback_commit_interval_s = 2.5

[serving]
max_batch = 500
serving_models = ["bull_specialist"]
api_keys = "{SECRET_KEY}:admin"
"""


@pytest.fixture
def config_file(tmp_path, monkeypatch) -> Path:
    for name in ("ONLINE_LEARNING_HOME", "ONLINE_LEARNING_DATABASE_URL", "ONLINE_LEARNING_API_KEYS",
                 "ONLINE_LEARNING_MAX_BATCH", "ONLINE_LEARNING_FEEDBACK_GROUP"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "online-learning.toml"
    path.write_text(FILE.format(home=tmp_path / "file-home"))
    monkeypatch.setenv("ONLINE_LEARNING_CONFIG", str(path))
    return path


def _settings(*args: str) -> tuple[dict, str]:
    result = runner.invoke(app, [*args, "config", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    return {row["setting"]: row for row in report["settings"]}, result.stdout


def test_each_setting_comes_from_the_highest_layer_that_sets_it(config_file, tmp_path, monkeypatch):
    monkeypatch.setenv("ONLINE_LEARNING_FEEDBACK_GROUP", "desk-from-env")

    rows, text = _settings("--home", str(tmp_path / "flag-home"))

    assert rows["home"]["value"] == str(tmp_path / "flag-home")
    assert rows["home"]["source"] == "flag --home"
    assert rows["feedback_group"] == {
        "table": "feedback", "setting": "feedback_group", "value": "desk-from-env",
        "source": "environment ONLINE_LEARNING_FEEDBACK_GROUP",
    }  # fmt: skip
    assert rows["feedback_commit_interval_s"]["value"] == 2.5
    assert rows["feedback_commit_interval_s"]["source"] == f"file {config_file} line 10"
    assert rows["max_batch"]["value"] == 500
    assert rows["max_batch"]["source"] == f"file {config_file} line 13"
    assert rows["serving_models"]["value"] == ["bull_specialist"]
    assert rows["strategy"] == {"table": "serving", "setting": "strategy", "value": "ensemble",
                                "source": "default"}  # fmt: skip
    # Secrets never shown: the keys masked, the URL's password too.
    assert rows["api_keys"]["value"] == "***"
    assert rows["database_url"]["value"] == "postgresql://ol:***@db.internal/metrics"
    assert SECRET_KEY not in text and "pa55word" not in text


def test_without_a_flag_the_environment_then_the_file_decide(config_file, tmp_path, monkeypatch):
    rows, _ = _settings()
    assert rows["home"]["value"] == str(tmp_path / "file-home")
    assert rows["home"]["source"] == f"file {config_file} line 5"

    monkeypatch.setenv("ONLINE_LEARNING_HOME", str(tmp_path / "env-home"))
    rows, _ = _settings()
    assert rows["home"]["value"] == str(tmp_path / "env-home")
    assert rows["home"]["source"] == "environment ONLINE_LEARNING_HOME"


def test_what_the_processes_read_is_what_config_says(config_file, tmp_path):
    from online_learning.settings import Settings
    from serving.settings import ServingSettings

    serving = ServingSettings()
    assert (serving.max_batch, serving.serving_models) == (500, ("bull_specialist",))
    assert serving.keys().authenticate(SECRET_KEY) is not None
    library = Settings()  # the command line's and the flows' (no [serving] of theirs)
    assert library.home == tmp_path / "file-home"
    assert library.feedback_commit_interval_s == 2.5
    assert library.metrics_database_url == "postgresql://ol:pa55word@db.internal/metrics"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("max_batch = 500", "max_btch = 500"),
            "line 13: [serving] max_btch: unknown setting; [serving] takes api_keys, host,",
        ),
        (("[feedback]", "[fedback]"), "line 8: unknown table or key 'fedback'; expected"),
        (
            ("feedback_commit_interval_s = 2.5", "feedback_commit_interval_s = 0"),
            "line 10: [feedback] feedback_commit_interval_s: Input should be greater than 0, got 0",
        ),
        (
            ('serving_models = ["bull_specialist"]', "serving_models = 3"),
            "line 14: [serving] serving_models: Input should be a valid tuple, got 3",
        ),
    ],
    ids=["unknown key", "unknown table", "out of range", "wrong type"],
)
def test_a_wrong_key_or_value_is_refused_naming_the_file_and_line(config_file, change, message):
    config_file.write_text(config_file.read_text().replace(*change))
    for command in (["config"], ["models"]):  # every command checks the file first
        result = runner.invoke(app, command)
        assert result.exit_code == EXIT_ERROR, result.output
        assert f"error: {config_file}: {message}" in result.output


def test_without_a_file_every_setting_is_the_environments_or_its_default(tmp_path, monkeypatch):
    monkeypatch.delenv("ONLINE_LEARNING_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./online-learning.toml here
    result = runner.invoke(app, ["config", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["file"] is None
    assert {row["source"] for row in report["settings"]} <= {"default"} | {
        f"environment {name}" for name in ("ONLINE_LEARNING_HOME", "MLFLOW_TRACKING_URI",
                                           "ONLINE_LEARNING_DATABASE_URL",
                                           "KAFKA_BOOTSTRAP_SERVERS", "ONLINE_LEARNING_API_KEYS")
    }  # fmt: skip
