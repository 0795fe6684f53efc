"""``/api/v1/streaming/{symbol}``: the WebSocket stream of one symbol.

Authentication (any key with the ``predict`` scope; ``admin`` implies it), in this order:

1. the ``Authorization: Bearer <key>`` header (agents, SDKs);
2. a subprotocol ``bearer.<key>`` (browsers cannot set headers on a WebSocket: offer
   ``["bearer", "bearer.<key>"]`` and the server selects ``bearer``; the key itself is never
   echoed). A key with characters outside HTTP's token characters (``/``, ``=``) cannot
   travel this way: use the header or the query parameter;
3. the ``token`` query parameter (kept out of uvicorn's logs, see
   :mod:`serving.streaming.logs`).

A missing, wrong or under-scoped key is refused before the socket opens: HTTP **403** with
``{"detail": ...}``. A malformed symbol or ``since`` is refused with HTTP **422**. Once open,
the key is checked again every ``auth_recheck_s``; a key no longer valid closes the stream
with code **1008**. A client that stays behind is closed with **4008**
(:mod:`serving.streaming.subscriber`), and a shutdown closes streams with **1001**.

Frames (JSON text): ``hello`` first (``{"type": "hello", "symbol", "seq": <last seq>,
"replica", "epoch"}``), then with ``?since=<seq>`` an optional ``gap`` and the replayed frames
after ``since``, then live ``prediction``, ``drift`` and ``outcome`` frames, each with its
``seq``. Sequence numbers are valid within one ``(replica, epoch)``: a client that passes the
``epoch`` of its last hello (``?since=12&epoch=...``) gets everything buffered when the
replica restarted since; without it, a ``since`` beyond the last seq counts as 0 too.
Messages the client sends are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from serving.auth import bearer_token
from serving.streaming.hub import StreamHub
from serving.streaming.subscriber import CLOSE_POLICY_VIOLATION, Subscriber

__all__ = ["SYMBOL_PATTERN", "presented_token", "router"]

router = APIRouter(prefix="/api/v1/streaming", tags=["streaming"])

#: Tickers and the like (``AAA``, ``BRK.B``, ``EURUSD=X``, ``^GSPC``, ``BTC-USD``).
SYMBOL_PATTERN = re.compile(r"[A-Za-z0-9^][A-Za-z0-9._:^=-]{0,31}")
SUBPROTOCOL = "bearer"
_SUBPROTOCOL_PREFIX = "bearer."
AUTH_HELP = (
    "a valid API key with the predict scope is required: the Authorization: Bearer <key> "
    "header, the subprotocol bearer.<key> (with bearer), or ?token=<key>"
)


def presented_token(websocket: WebSocket) -> str | None:
    """The key the client presented: header, then subprotocol, then query parameter."""
    token = bearer_token(websocket.headers.get("authorization"))
    if token:
        return token
    for protocol in websocket.scope.get("subprotocols") or ():
        if protocol.startswith(_SUBPROTOCOL_PREFIX) and len(protocol) > len(_SUBPROTOCOL_PREFIX):
            return protocol[len(_SUBPROTOCOL_PREFIX) :]
    return websocket.query_params.get("token") or None


def _authorised(websocket: WebSocket, token: str | None) -> bool:
    keys = getattr(websocket.app.state, "api_keys", None)
    if keys is None or token is None:
        return False
    principal = keys.authenticate(token)
    return principal is not None and principal.allows("predict")


async def _deny(websocket: WebSocket, status: int, detail: str) -> None:
    """Refuse the handshake with an HTTP status and a JSON body (or a plain 403 when the
    server lacks the WebSocket denial response extension)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse({"detail": detail}, status_code=status))
    else:
        await websocket.close(code=CLOSE_POLICY_VIOLATION)


def _since(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise ValueError(f"since must be a non-negative integer sequence number, got {text!r}")
    return int(text)


async def _read_until_disconnect(websocket: WebSocket, sub: Subscriber) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    sub.mark_disconnected()


@router.websocket("/{symbol}")
async def stream_symbol(websocket: WebSocket, symbol: str) -> None:
    """Stream the predictions, drift events and outcomes of ``symbol`` (see the module)."""
    token = presented_token(websocket)
    if not _authorised(websocket, token):
        await _deny(websocket, 403, AUTH_HELP)
        return
    hub: StreamHub | None = getattr(websocket.app.state, "hub", None)
    if hub is None:
        await _deny(websocket, 503, "streaming is not running on this replica")
        return
    if not SYMBOL_PATTERN.fullmatch(symbol):
        await _deny(
            websocket,
            422,
            f"symbol must be 1-32 characters of letters, digits and ._:^=-, got {symbol!r}",
        )
        return
    try:
        since = _since(websocket.query_params.get("since"))
    except ValueError as exc:
        await _deny(websocket, 422, str(exc))
        return
    epoch = websocket.query_params.get("epoch") or None
    if epoch is not None and (len(epoch) > 64 or not epoch.isascii()):
        await _deny(websocket, 422, "epoch must be the epoch of a hello frame")
        return

    offered = websocket.scope.get("subprotocols") or ()
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    sub = hub.subscribe(symbol, since, epoch)
    reader = asyncio.create_task(_read_until_disconnect(websocket, sub))

    def still_authorised() -> tuple[int, str] | None:
        if _authorised(websocket, token):
            return None
        return CLOSE_POLICY_VIOLATION, "API key no longer valid"

    close: tuple[int, str] | None = None
    try:
        close = await sub.pump(
            websocket.send_text,
            check_every_s=hub.auth_recheck_s,
            check=still_authorised,
        )
    except WebSocketDisconnect:
        close = None
    finally:
        hub.unsubscribe(sub, close[0] if close else None)
        reader.cancel()
    if close is not None:
        code, reason = close
        # A congested socket takes the close frame only once it drains; don't wait forever.
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            await asyncio.wait_for(websocket.close(code, reason), hub.close_timeout_s)
