"""The documentation site builds with --strict (a broken link, anchor or reference fails), loads
nothing from another host, and its reference pages follow the declarations they are generated
from."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    return out


def test_every_page_loads_only_what_the_site_serves(site):
    pages = list(site.rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        html = page.read_text()
        loaded = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(https?:)?//', html)
        assert loaded == [], page


def _text(page: Path) -> str:
    return re.sub(r"<[^>]+>", "", page.read_text())


def test_the_http_reference_lists_every_operation_with_its_scope(site):
    from serving.app import create_app

    text = _text(site / "reference" / "http-api" / "index.html")
    for path, operations in create_app().openapi()["paths"].items():
        for method in operations:
            assert re.search(rf"{method.upper()}\s*{re.escape(path)}", text), (method, path)
    assert re.search(r"POST\s*/api/v1/feedback/outcomes\s*feedback", text)
    assert "TradeOutcome" in text and "PredictionFrame" in text


def test_the_configuration_reference_lists_every_setting(site):
    from online_learning.configuration.models import ModelConfig
    from serving.settings import ServingSettings

    text = _text(site / "reference" / "configuration" / "index.html")
    for table, names in ServingSettings.sections().items():
        assert f"[{table}]" in text
        for name in names:
            assert name in text, name
    for name in ModelConfig.model_fields:
        assert name in text, name
    assert "ONLINE_LEARNING_FEEDBACK_COMMIT_INTERVAL_S" in text


def test_the_python_reference_is_rendered_from_the_docstrings(site):
    text = _text(site / "reference" / "python" / "online_learning_client" / "index.html")
    assert "SignalCombiner" in text and "build_outcome" in text
    assert "Blend an agent" in text  # a docstring's own words
