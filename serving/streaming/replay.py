"""One symbol's numbered frames: contiguous sequence numbers and a replay ring buffer.

Sequence numbers are per symbol and per replica, from 1, without holes: every frame fanned out
for a symbol takes the next one, and the last ``replay_size`` frames stay in a ring buffer so
that a client reconnecting with ``?since=<seq>`` gets what it missed. What the ring no longer
holds is announced as a ``gap`` frame (``{"type": "gap", "from": a, "to": b}``: frames a..b
are lost to this client) before the replay of the rest.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass

from serving.streaming.frames import Frame, encode

__all__ = ["Replay", "StreamSet", "SymbolStream"]


@dataclass(frozen=True, slots=True)
class Replay:
    """What a (re)connecting client gets before the live frames: an optional gap frame and the
    buffered frames after its ``since``."""

    gap: tuple[int, int] | None
    frames: list[Frame]

    def gap_text(self) -> str | None:
        if self.gap is None:
            return None
        return encode({"type": "gap", "from": self.gap[0], "to": self.gap[1]})


class SymbolStream:
    """The frames of one symbol on this replica.

    Parameters
    ----------
    symbol : str
    replay_size : int
        Frames kept for replay (the ring buffer's length; 0: none, every ``since`` behind the
        last seq gets a gap frame).
    last_seq : int
        Sequence number to continue from (a stream rebuilt after its buffer was evicted keeps
        its numbering, so that clients never see a number twice).
    """

    def __init__(self, symbol: str, replay_size: int, last_seq: int = 0) -> None:
        if replay_size < 0:
            raise ValueError(f"replay_size must be 0 (no replay) or more, got {replay_size}")
        self.symbol = symbol
        self.replay_size = replay_size
        self.last_seq = last_seq
        self._ring: deque[Frame] = deque(maxlen=replay_size)
        self.subscribers: set = set()

    def append(self, kind: str, message: dict) -> Frame:
        """Number ``message`` (a frame without ``type``/``seq``) and keep it for replay."""
        self.last_seq += 1
        seq = self.last_seq
        frame = Frame(seq, kind, encode({"type": kind, "seq": seq, **message}))
        self._ring.append(frame)
        return frame

    @property
    def first_buffered(self) -> int:
        """Sequence number of the oldest frame still buffered (``last_seq + 1`` when empty)."""
        return self._ring[0].seq if self._ring else self.last_seq + 1

    def replay(self, since: int | None) -> Replay:
        """Frames after ``since``; a ``since`` beyond ``last_seq`` (a restarted replica's, or
        another replica's numbering) counts as 0: the client gets everything buffered."""
        if since is None:
            return Replay(None, [])
        if since > self.last_seq:
            since = 0
        if since >= self.last_seq:
            return Replay(None, [])
        first = self.first_buffered
        gap = (since + 1, first - 1) if since + 1 < first else None
        # Frames are contiguous: the ones after ``since`` are the ring's tail.
        skip = max(0, since + 1 - first)
        return Replay(gap, list(self._ring)[skip:])


class StreamSet:
    """The symbol streams of a replica, their replay buffers bounded in number.

    Any symbol may be predicted, so the buffers of the least recently active symbols without
    subscribers are dropped beyond ``max_buffered`` symbols; their numbering is kept (a
    stream rebuilt later continues it, and the lost frames are a gap), itself bounded at
    ``100 * max_buffered`` symbols, oldest first.
    """

    def __init__(self, replay_size: int, max_buffered: int) -> None:
        self.replay_size = replay_size
        self.max_buffered = max_buffered
        self._streams: OrderedDict[str, SymbolStream] = OrderedDict()
        self._evicted_seq: dict[str, int] = {}

    def __iter__(self) -> Iterator[SymbolStream]:
        return iter(self._streams.values())

    def find(self, symbol: str) -> SymbolStream | None:
        return self._streams.get(symbol)

    def get(self, symbol: str) -> SymbolStream:
        """The stream of ``symbol``, created (or rebuilt) if needed; marks it active."""
        stream = self._streams.get(symbol)
        if stream is not None:
            self._streams.move_to_end(symbol)
            return stream
        stream = SymbolStream(symbol, self.replay_size, self._evicted_seq.pop(symbol, 0))
        self._streams[symbol] = stream
        if len(self._streams) > self.max_buffered:
            self._evict()
        return stream

    def last_seq(self, symbol: str) -> int:
        stream = self._streams.get(symbol)
        return stream.last_seq if stream is not None else self._evicted_seq.get(symbol, 0)

    def _evict(self) -> None:
        excess = len(self._streams) - self.max_buffered
        for symbol in list(self._streams):
            if excess <= 0:
                break
            stream = self._streams[symbol]
            if stream.subscribers:
                continue
            del self._streams[symbol]
            self._evicted_seq[symbol] = stream.last_seq
            excess -= 1
        while len(self._evicted_seq) > 100 * self.max_buffered:
            del self._evicted_seq[next(iter(self._evicted_seq))]
