"""A team's configuration written as its checkout has it: its code on the path, its file named
by ``ONLINE_LEARNING_CONFIG``, its data a CSV of four stocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.utils.team_code import STOCKS, TEAM_CODE, write_stocks_csv


@pytest.fixture(scope="session")
def stocks_csv(tmp_path_factory) -> Path:
    return write_stocks_csv(tmp_path_factory.mktemp("team-data"))


@pytest.fixture
def configure_team(home, tmp_path, monkeypatch, stocks_csv) -> Callable[[str], Path]:
    """``configure_team(template)``: the configuration file, ``{stocks}`` and ``{symbols}`` of
    the template filled in."""

    def configure(template: str) -> Path:
        monkeypatch.syspath_prepend(str(TEAM_CODE))
        config = tmp_path / "online-learning.toml"
        config.write_text(template.format(stocks=stocks_csv, symbols=json.dumps(STOCKS)))
        monkeypatch.setenv("ONLINE_LEARNING_CONFIG", str(config))
        return config

    return configure
