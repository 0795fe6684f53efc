"""The data folder is its user's alone: folders 0700, files 0600, the key created so."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from online_learning.metrics_store import MetricsStore
from serving.auth import development_key


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_command_line_creates_the_data_folder_and_its_files_owner_only(tmp_path):
    home = tmp_path / "fresh-home"
    env = dict(os.environ, ONLINE_LEARNING_HOME=str(home))
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run(
        [sys.executable, "-c", "from cli import main; main()", "models"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    created = [home, *home.rglob("*")]
    assert any(p.name == "mlflow.db" for p in created), created
    for path in created:
        expected = 0o700 if path.is_dir() else 0o600
        assert _mode(path) == expected, (path, oct(_mode(path)))


def test_the_key_and_the_sqlite_store_have_their_mode_whatever_the_umask(tmp_path):
    previous = os.umask(0)  # as permissive as it gets: the modes must come from the code
    try:
        key, created = development_key(tmp_path / "home")
        store = MetricsStore(f"sqlite:///{tmp_path / 'store' / 'metrics.db'}")
        store.migrate()
        store.dispose()
    finally:
        os.umask(previous)
    assert created and (tmp_path / "home" / "api-key").read_text().strip() == key
    assert _mode(tmp_path / "home") == 0o700
    assert _mode(tmp_path / "home" / "api-key") == 0o600
    assert [p.name for p in (tmp_path / "home").iterdir()] == ["api-key"]  # no temporary left
    assert _mode(tmp_path / "store") == 0o700
    files = list((tmp_path / "store").iterdir())  # the database, and its WAL if left
    assert "metrics.db" in {p.name for p in files}
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
