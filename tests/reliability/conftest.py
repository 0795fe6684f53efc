"""The campaign's experiments as tests: a real broker per module, real PostgreSQL servers.

Outages are played on a private PostgreSQL cluster (:mod:`tests.utils.private_postgres`),
stopped and started for real; the machine's shared server is never stopped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cli.broker import EmbeddedKafka
from tests.utils.private_postgres import PrivatePostgres


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedKafka]:
    with EmbeddedKafka() as broker:
        yield broker


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as server:
        yield server
