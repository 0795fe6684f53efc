"""The layering contract of pyproject.toml holds, and it catches a violation planted in a copy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("online_learning", "flows", "serving", "feedback", "cli")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(folder: Path) -> subprocess.CompletedProcess[str]:
    # --no-cache: a copy must be read afresh, not from the checkout's cache.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages and of pyproject.toml, to plant violations in."""
    folder = tmp_path_factory.mktemp("layering")
    for name in PACKAGES:
        shutil.copytree(
            ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__", "static")
        )
    shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
    return folder


def plant(tree: Path, module: str, source: str) -> Path:
    path = tree.joinpath(*module.split(".")).with_suffix(".py")
    path.write_text(f"from __future__ import annotations\n\n{source}\n")
    return path


def test_the_checkout_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "contract"),
    [
        # The library reaching into an adapter.
        ("online_learning.planted", "import serving.app", "the library imports none of them"),
        ("online_learning.planted", "import fastapi", "The library is framework-free"),
        ("online_learning.update.planted", "import mlflow", "MLflow only in the registry"),
        # update imports metrics_store; the reverse would make a cycle.
        ("online_learning.metrics_store.planted", "import online_learning.update.gate",
         "No cycles between the library's subpackages"),
    ],
)  # fmt: skip
def test_a_planted_violation_is_caught(tree: Path, module: str, source: str, contract: str):
    path = plant(tree, module, source)
    try:
        result = lint_imports(tree)
    finally:
        path.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in " ".join(broken.split()), result.stdout
