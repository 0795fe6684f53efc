"""scripts/ensure-promtool.sh prints a working promtool or fails loudly, never half-way."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.monitoring.helpers import ENSURE_PROMTOOL


def ensure(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(ENSURE_PROMTOOL)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_prints_only_the_path_of_a_promtool_that_runs(promtool: str) -> None:
    result = ensure({**os.environ, "PATH": f"{Path(promtool).parent}:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{promtool}\n"
    version = subprocess.run([promtool, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("promtool, version ")


def test_promtool_variable_is_used_and_checked(promtool: str, tmp_path: Path) -> None:
    link = tmp_path / "my-promtool"
    link.symlink_to(promtool)
    result = ensure({**os.environ, "PROMTOOL": str(link)})
    assert (result.returncode, result.stdout) == (0, f"{promtool}\n"), result.stderr

    result = ensure({**os.environ, "PROMTOOL": "/bin/false"})
    assert result.returncode != 0
    assert result.stdout == ""
    assert "ERROR: PROMTOOL=/bin/false is not an executable promtool" in result.stderr


def test_fails_loudly_when_it_cannot_install(tmp_path: Path) -> None:
    # Neither promtool nor apt-get on PATH: nothing to use, nothing to install with.
    result = ensure({"PATH": str(tmp_path)})
    assert result.returncode != 0
    assert result.stdout == ""
    assert "ERROR: no apt-get here" in result.stderr
