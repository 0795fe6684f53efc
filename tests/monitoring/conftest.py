"""A working promtool, from scripts/ensure-promtool.sh, for the whole session."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.monitoring.helpers import ENSURE_PROMTOOL


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of a working promtool; installs it (Debian package) when missing, else fails."""
    result = subprocess.run(
        ["bash", str(ENSURE_PROMTOOL)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/ensure-promtool.sh failed ({result.returncode}):\n{result.stderr}")
    path = result.stdout.strip()
    assert Path(path).is_absolute() and "\n" not in path, result.stdout
    return path
