"""scripts/ensure-packages.sh leaves present commands alone and fails loudly on bad input."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure-packages.sh"


def ensure(*pairs: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(SCRIPT), *pairs],
        env=env or dict(os.environ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_commands_on_path_install_nothing():
    result = ensure("bash=bash", "ls=coreutils")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_browser_and_load_tools_of_the_test_suite_are_there():
    # `make test` ran the script for these before pytest started.
    for command in ("chromium", "chromedriver", "wrk"):
        assert ensure(f"{command}=unused").returncode == 0, command


def test_usage_errors_say_what_is_expected():
    assert "usage" in ensure().stderr
    result = ensure("no-equals-sign")
    assert result.returncode != 0
    assert "expected COMMAND=PACKAGE" in result.stderr


def test_a_package_that_does_not_exist_fails_with_its_name(tmp_path):
    result = ensure("no-such-command-xyz=no-such-package-xyz")
    assert result.returncode != 0
    assert "no-such-package-xyz" in result.stderr
