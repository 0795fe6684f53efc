"""Two replicas of the real API (``online-learning serve``, two processes on loopback ports)
on the embedded broker: a subscriber on one sees the predictions served by the other."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus

from cli.api_process import ApiProcess, api_process
from tests.serving.streaming.helpers import frames, no_frame, open_stream
from tests.utils.api_keys import AGENT, KEYS, bearer
from tests.utils.registries import register

SPECIALISTS = ("bull_specialist", "bear_specialist", "sideways_specialist")


@dataclass(frozen=True)
class Replica:
    api: ApiProcess

    @property
    def http(self) -> str:
        return self.api.api_url

    @property
    def ws(self) -> str:
        return self.api.url.replace("http://", "ws://", 1) + "/api/v1/streaming"


@pytest.fixture
def replicas(registry, broker, home, monkeypatch):
    """``online-learning serve`` twice on the test's home, as ``up`` starts it."""
    for seed, model_id in enumerate(SPECIALISTS, start=1):
        register(registry, model_id, seed)
    monkeypatch.setenv("ONLINE_LEARNING_API_KEYS", KEYS)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with ExitStack() as stack:
        started = []
        for name in ("replica-1", "replica-2"):
            monkeypatch.setenv("ONLINE_LEARNING_REPLICA", name)  # read when it starts
            api = stack.enter_context(
                api_process(
                    home=home, bootstrap_servers=broker.bootstrap_servers, prefect_api_url=None,
                    port=0,
                )
            )  # fmt: skip
            started.append(Replica(api))
        yield started


def test_a_subscriber_on_replica_1_sees_the_predictions_served_by_replica_2(replicas):
    one, two = replicas
    auth = bearer(AGENT)
    models = httpx.get(f"{two.http}/models", headers=auth, timeout=10).json()
    names = models[0]["feature_names"]

    def features(i: int) -> dict[str, float]:
        return {name: 0.01 * (i + k) for k, name in enumerate(names)}

    async def scenario():
        with pytest.raises(InvalidStatus) as refused:
            await open_stream(f"{one.ws}/AAA", key=None)
        assert refused.value.response.status_code == 403
        on_one = await open_stream(f"{one.ws}/AAA?since=0", how="query")  # as a browser may
        on_two = await open_stream(f"{two.ws}/AAA", how="subprotocol")
        (hello_one,) = await frames(on_one, 1)
        (hello_two,) = await frames(on_two, 1)
        assert hello_one["replica"] == "replica-1" and hello_two["replica"] == "replica-2"

        async with httpx.AsyncClient(headers=auth, timeout=30) as http:
            response = await http.post(
                f"{two.http}/predictions", json={"symbol": "AAA", "features": features(0)}
            )
            assert response.status_code == 200, response.text
            served = response.json()
            (got,) = await frames(on_one, 1)
            assert got["type"] == "prediction" and got["seq"] == hello_one["seq"] + 1
            assert got["prediction_id"] == served["prediction_id"]
            assert got["served_by"] == "replica-2"
            assert got["components"] == served["components"] and got["p_up"] == served["p_up"]
            (own,) = await frames(on_two, 1)  # replica 2 streams it too, once, from the topic
            assert own["prediction_id"] == served["prediction_id"]

            # a batch served by replica 1: replica 2 streams it in order, numbered its own way
            response = await http.post(
                f"{one.http}/predictions",
                json={"requests": [{"symbol": "AAA", "features": features(i)} for i in (1, 2)]
                      + [{"symbol": "BBB", "features": features(3)}]},
            )  # fmt: skip
            assert response.status_code == 200, response.text
            batch = response.json()["predictions"]
            got = await frames(on_two, 2)
            assert [f["prediction_id"] for f in got] == [p["prediction_id"] for p in batch[:2]]
            assert [f["seq"] for f in got] == [own["seq"] + 1, own["seq"] + 2]
            got = await frames(on_one, 2)
            assert [f["prediction_id"] for f in got] == [p["prediction_id"] for p in batch[:2]]
        assert await no_frame(on_one, 1.0) and await no_frame(on_two, 0.2)
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(
                httpx.get(f"{one.http}/metrics", timeout=10).text
            )
            for sample in family.samples
        }
        assert samples[("online_learning_stream_subscribers", ())] == 1
        assert samples[("online_learning_stream_frames_sent_total", (("type", "prediction"),))] == 3
        consumed = (("outcome", "consumed"), ("topic", "predictions"))
        assert samples[("online_learning_stream_bridge_messages_total", consumed)] == 4  # +BBB
        await on_one.close()
        await on_two.close()

    asyncio.run(scenario())
    log = one.api.log_path.read_text()  # both replicas write there
    assert "WebSocket /api/v1/streaming/AAA" in log and AGENT not in log
