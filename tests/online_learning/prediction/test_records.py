"""The prediction's JSON form, written from its declaration, is pydantic's own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from pydantic import TypeAdapter

from online_learning.prediction._json_form import json_form
from online_learning.prediction.records import Component, Prediction, SessionInfo
from tests.utils.declarations import example


@pytest.mark.parametrize("null", [False, True], ids=["values", "nulls"])
@pytest.mark.parametrize("cls", [Prediction, Component, SessionInfo], ids=lambda c: c.__name__)
def test_to_dict_is_the_json_form_pydantic_derives_from_the_declaration(cls, null):
    declared = example(cls, null=null)
    served = declared.to_dict()
    assert served == TypeAdapter(cls).dump_python(declared, mode="json")
    assert list(served) == list(TypeAdapter(cls).json_schema(mode="serialization")["properties"])


def test_a_field_type_without_a_json_form_fails_naming_the_field():
    @dataclass
    class Quote:
        symbol: str
        day: date

    with pytest.raises(TypeError, match=r"Quote\.day: no JSON form for <class 'datetime.date'>"):
        json_form(Quote)
