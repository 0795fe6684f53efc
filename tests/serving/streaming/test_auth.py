"""Keys on the stream: header, subprotocol or query parameter; 403 before the socket opens,
1008 once the key stops being valid; the key never reaches the logs."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from serving.auth import ApiKeys
from tests.serving.streaming.helpers import frames, open_stream, serving
from tests.utils.api_keys import AGENT, FEEDER, OPS, UNKNOWN, api_keys


@pytest.fixture
def server():
    with serving(auth_recheck_s=0.2) as server:
        yield server


async def refused(url: str, **kwargs) -> tuple[int, dict]:
    with pytest.raises(InvalidStatus) as info:
        await open_stream(url, **kwargs)
    response = info.value.response
    return response.status_code, json.loads(response.body)


@pytest.mark.parametrize(
    ("key", "how"),
    [
        (None, "header"),
        (UNKNOWN, "header"),
        (UNKNOWN, "query"),
        (UNKNOWN, "subprotocol"),
        (FEEDER, "header"),
    ],
)
def test_no_wrong_or_underscoped_key_is_refused_with_403_before_the_socket_opens(server, key, how):
    status, body = asyncio.run(refused(f"{server.url}/AAA", key=key, how=how))
    assert status == 403
    assert "predict scope" in body["detail"] and "Bearer" in body["detail"]
    assert server.app.state.hub.subscriber_count() == 0


@pytest.mark.parametrize("how", ["header", "subprotocol", "query"])
@pytest.mark.parametrize("key", [AGENT, OPS])
def test_a_predict_or_admin_key_opens_the_stream_every_way(server, key, how):
    async def scenario():
        ws = await open_stream(f"{server.url}/AAA", key=key, how=how)
        # browsers offer ["bearer", "bearer.<key>"]: the server selects "bearer", never the key
        assert ws.subprotocol == ("bearer" if how == "subprotocol" else None)
        assert (await frames(ws, 1))[0]["type"] == "hello"
        await ws.close()

    asyncio.run(scenario())


def test_malformed_symbol_or_since_is_refused_with_422_and_a_message(server):
    status, body = asyncio.run(refused(f"{server.url}/AAA?since=-3"))
    assert status == 422 and "since must be a non-negative integer" in body["detail"]
    status, body = asyncio.run(refused(f"{server.url}/AAA?since=x"))
    assert status == 422
    status, body = asyncio.run(refused(f"{server.url}/{'A' * 40}"))
    assert status == 422 and "symbol must be 1-32 characters" in body["detail"]
    # an unauthenticated client learns nothing about validation
    status, _ = asyncio.run(refused(f"{server.url}/AAA?since=x", key=None))
    assert status == 403


def test_a_key_revoked_after_accept_closes_the_stream_with_1008(server):
    async def scenario():
        ws = await open_stream(f"{server.url}/AAA", key=AGENT)
        keep = await open_stream(f"{server.url}/AAA", key=OPS)
        await frames(ws, 1)
        await frames(keep, 1)
        server.app.state.api_keys = ApiKeys.parse(api_keys(OPS))  # AGENT revoked
        with pytest.raises(ConnectionClosed) as info:
            async with asyncio.timeout(5):
                await ws.recv()
        assert info.value.rcvd.code == 1008
        assert info.value.rcvd.reason == "API key no longer valid"
        await asyncio.sleep(0.5)  # several rechecks later the valid key still streams
        assert keep.state.name == "OPEN"
        await keep.close()

    asyncio.run(scenario())


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_a_key_in_the_query_string_never_reaches_uvicorns_log(server):
    capture = _Capture()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(capture)
    try:

        async def scenario():
            ws = await open_stream(f"{server.url}/AAA?since=0", key=AGENT, how="query")
            await frames(ws, 1)
            await ws.close()
            await refused(f"{server.url}/AAA", key=UNKNOWN, how="query")

        asyncio.run(scenario())
    finally:
        logger.removeHandler(capture)
    handshakes = [line for line in capture.lines if "WebSocket /api/v1/streaming/AAA" in line]
    assert len(handshakes) == 2, capture.lines
    assert any("[accepted]" in line for line in handshakes)
    assert any("403" in line for line in handshakes)
    assert all("token=<redacted>" in line for line in handshakes)
    assert not any(AGENT in line or "wrong-key" in line for line in capture.lines)
