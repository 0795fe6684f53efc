"""A real Kafka-protocol broker (tansu) per module, for the streams across replicas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cli.broker import EmbeddedKafka


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedKafka]:
    with EmbeddedKafka() as broker:
        yield broker
