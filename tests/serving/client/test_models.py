"""The client distribution's types against the API's own document, and its table of operations.

``online_learning_client/models.py`` is generated from the OpenAPI document the app serves
(:mod:`serving.client_models`): a response field added, removed or retyped on the server and
not regenerated fails here, as does an operation the client has no method for.
"""

from __future__ import annotations

import copy
import typing

import pytest

import online_learning_client
from online_learning.prediction import records
from online_learning_client import AsyncClient, Client, models
from online_learning_client._api import OPERATIONS
from serving import client_models
from tests.utils.declarations import example


@pytest.fixture(scope="module")
def document() -> dict:
    return client_models.openapi_document()


def test_the_generated_types_are_those_of_the_document(document):
    assert client_models.render(document) == client_models.TARGET.read_text(), (
        "the API's answers changed: run `python -m serving.client_models`"
    )


def test_a_changed_answer_changes_the_generated_types(document):
    changed = copy.deepcopy(document)
    component = changed["components"]["schemas"]["Component"]
    component["properties"]["shadow"] = {"type": "boolean"}
    component["required"].append("shadow")
    component["properties"]["weight"] = {"type": "string"}

    source = client_models.render(changed)

    assert source != client_models.TARGET.read_text()
    block = source[source.index("class Component(") :].split("\n\n\nclass ", 1)[0]
    assert {"    shadow: bool", "    weight: str"} <= set(block.splitlines())


def _operations(document) -> dict[str, set[str]]:
    """``{operationId: client names of its successful answers and of their parts}``."""
    schemas = document["components"]["schemas"]
    out = {}
    for operations in document["paths"].values():
        for operation in operations.values():
            todo = [
                name
                for status, response in operation["responses"].items()
                if status.startswith("2")
                for name in client_models._refs(response)
            ]
            names: set[str] = set()
            while todo:
                name = todo.pop()
                if client_models.client_name(name) not in names:
                    names.add(client_models.client_name(name))
                    todo += client_models._refs(schemas[name])
            out[operation["operationId"]] = names
    return out


def _named(annotation) -> set[str]:
    """The generated types an annotation names (``list[Model]`` -> ``{"Model"}``)."""
    if isinstance(annotation, type) and annotation.__module__ == models.__name__:
        return {annotation.__name__}
    return {n for arg in typing.get_args(annotation) for n in _named(arg)}


def test_every_operation_has_methods_that_answer_its_types(document):
    operations = _operations(document)
    assert set(OPERATIONS) == set(operations)
    for operation_id, methods in OPERATIONS.items():
        if isinstance(methods, str):  # left to others, with the reason
            continue
        for name in methods:
            for cls in (Client, AsyncClient):
                assert callable(getattr(cls, name, None)), f"{cls.__name__}.{name}"
            returned = _named(typing.get_type_hints(getattr(Client, name))["return"])
            assert returned, f"Client.{name} answers no generated type"
            assert returned <= operations[operation_id], (operation_id, name, returned)


def test_every_answer_type_is_exported():
    assert set(models.__all__) <= {*online_learning_client.__all__, "PredictionBatch",
                                   "SessionInfo", "OutcomeResults", "LastUpdate",
                                   "PerformanceDay", "PerformanceSummary", "TradedComponent",
                                   "TradedPrediction", "AdaptationEpisode", "BusinessImpact",
                                   "ComponentScore", "ChampionAge", "SessionAge", "Freshness",
                                   "Headline", "PnlPoint"}  # fmt: skip
    for name in models.__all__:
        assert isinstance(getattr(models, name), type)


@pytest.mark.parametrize("null", [False, True], ids=["values", "nulls"])
def test_the_client_reads_a_declared_prediction_back_whole(null):
    served = example(records.Prediction, null=null).to_dict()

    read = models.Prediction.model_validate({**served, "venue": "XNAS"})

    assert read.model_dump(mode="json", exclude={"venue"}) == served
    assert read.model_extra == {"venue": "XNAS"}  # a field of a newer server is kept
    assert read.versions() == {c["name"]: c["version"] for c in served["components"]}
    with pytest.raises(ValueError, match="frozen"):
        read.p_up = 0.1


# -- the trade outcome: the declaration the client checks against, and the worker's parser ------
_OUTCOME = {
    "schema_version": 1,
    "trade_id": "t-000123",
    "symbol": "BRK.B",
    "timestamp": "2026-01-05T21:00:00Z",
    "model_id": "bull_specialist",
    "prediction_id": "p-1",
    "features": {"ret_1": 0.0123, "vol_21": 0.02},
    "prediction": {"p_up": 0.61},
    "position": 0.22,
    "realized_return": -0.004,
}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"position": None, "pnl": None, "model_id": None, "prediction_id": None},
        {"venue": "XNAS"},
        {"symbol": "^GSPC"},
        {"trade_id": "t\x00x"},
        {"trade_id": "t\x85x"},
        {"trade_id": "x" * 201},
        {"trade_id": ""},
        {"prediction_id": "p\x1fq"},
        {"symbol": "A A"},
        {"model_id": "-bull"},
        {"schema_version": 2},
        {"features": {}},
        {"features": {"ret_1": 1e16}},
        {"realized_return": float("nan")},
        {"position": float("inf")},
        {"pnl": -2e15},
        {"prediction": {"p_up": 1.2}},
        {"prediction": {"p_up": None, "rule_position": 0.3, "ml_contribution": 0.4}},
        {"prediction": {"rule_position": float("inf")}},
        {"prediction": {"ml_contribution": -0.1}},
        {"prediction": {"components": [{"name": "bull", "kind": "batch", "p_up": 0.6}]}},
        {"prediction": {"components": [{"name": "bull", "kind": "tree", "p_up": 0.6}]}},
        {"prediction": {"components": [{"name": "", "kind": "batch", "p_up": 0.6}]}},
        {
            "prediction": {
                "components": [{"name": "s", "kind": "online", "p_up": 0.6, "weight": -1}]
            }
        },
        {"prediction": {"components": [{"kind": "online", "p_up": 0.6}]}},
        {"prediction": {"components": {"name": "bull"}}},
        {"prediction": {"components": [{"name": "b", "kind": "batch", "p_up": 0.5}] * 33}},
    ],
)
def test_the_declared_trade_outcome_agrees_with_the_workers_parser(change):
    from online_learning.errors import InvalidTradeOutcome
    from online_learning.feedback.trade_outcome import parse_trade_outcome

    outcome = {**_OUTCOME, **change}
    try:
        parse_trade_outcome(outcome, feature_names=None, known_model_ids=None)
        parsed = True
    except InvalidTradeOutcome:
        parsed = False
    try:
        models.TradeOutcome.model_validate(outcome)
        declared = True
    except ValueError:
        declared = False
    assert declared == parsed
