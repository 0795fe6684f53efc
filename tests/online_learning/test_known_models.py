"""The registry's model list, cached: it outlasts an outage and re-reads when it is stale."""

from __future__ import annotations

import pytest

from online_learning.errors import RegistryError
from online_learning.registry.known import KnownModels


class Flaky:
    """A registry's ``list_models`` that can be made to fail, counting its reads."""

    def __init__(self) -> None:
        self.ids = ["bull_specialist"]
        self.down = False
        self.reads = 0

    def __call__(self) -> list[dict]:
        self.reads += 1
        if self.down:
            raise RegistryError("registry unreachable")
        return [{"model_id": model_id} for model_id in self.ids]


def test_reads_once_per_ttl_and_a_miss_reads_again() -> None:
    registry = Flaky()
    known = KnownModels(registry, ttl_s=3600)
    assert known.ids() == {"bull_specialist"} and known.ids() == {"bull_specialist"}
    assert registry.reads == 1
    registry.ids.append("mine")
    assert known.exists("mine")  # a miss is checked against a fresh list
    assert registry.reads == 2


def test_an_outage_keeps_the_last_list_and_before_any_read_knows_nothing() -> None:
    registry = Flaky()
    registry.down = True
    known = KnownModels(registry, ttl_s=0)
    assert known() is None  # the feedback path then accepts any well-formed id
    with pytest.raises(RegistryError):
        known.rows()
    registry.down = False
    assert known() == {"bull_specialist"}
    registry.down = True
    assert known() == {"bull_specialist"} and known.exists("bull_specialist")
    assert not known.exists("other")
