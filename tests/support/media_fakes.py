"""Stand-ins for the live core's collaborators: a manual loop, a counting wire, a recording sink.

Shared by the Source unit tests (tests/unit/media) and the pacer tests.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from srs.media.consumer import NOT_YET, NotYet
from srs.media.message import AUDIO, DATA, VIDEO, MediaMessage

AVC = 7


class Loop:
    """A manual stand-in for loop.call_soon."""

    def __init__(self) -> None:
        self.calls: list[Callable[[], None]] = []

    def schedule(self, fn: Callable[[], None]) -> None:
        self.calls.append(fn)

    def run(self) -> int:
        n = 0
        while self.calls:
            calls, self.calls = self.calls, []
            for fn in calls:
                fn()
                n += 1
        return n


class CountingWire:
    def __init__(self, key: Hashable = "w", preamble: bytes = b"") -> None:
        self.key = key
        self.preamble = preamble
        self.encoded = 0

    def encode(self, msg: MediaMessage) -> bytes:
        self.encoded += 1
        return f"{msg.kind}:{msg.timestamp}:{len(msg.payload)};".encode()


class FakeSink:
    def __init__(self, wire: CountingWire | None = None, writable: bool = True) -> None:
        self.wire = wire or CountingWire()
        self.batches: list[list[bytes]] = []
        self.can_write = writable
        self.unpublished = 0
        self.limit_reached = 0
        self.refuse = False
        self.wait_for = 0  # answer NOT_YET until this many messages are offered
        self.first: list[MediaMessage] = []

    def choose_wire(self, first: Sequence[MediaMessage]) -> CountingWire | NotYet | None:
        self.first = list(first)
        if len(first) < self.wait_for:
            return NOT_YET
        return None if self.refuse else self.wire

    def write(self, bufs: list[bytes], nbytes: int) -> bool:
        assert nbytes == sum(map(len, bufs))
        self.batches.append(list(bufs))
        return self.can_write

    def writable(self) -> bool:
        return self.can_write

    def on_unpublish(self) -> None:
        self.unpublished += 1

    def on_limit_reached(self) -> None:
        self.limit_reached += 1

    @property
    def buffers(self) -> list[bytes]:
        return [b for batch in self.batches for b in batch]

    @property
    def timestamps(self) -> list[int]:
        return [int(b.split(b":")[1]) for b in self.buffers if b.count(b":") == 2]


def video(ts: int, key: bool = False, sh: bool = False, size: int = 100) -> MediaMessage:
    return MediaMessage(VIDEO, ts, b"v" * size, keyframe=key or sh, sequence_header=sh, codec=AVC)


def audio(ts: int, sh: bool = False) -> MediaMessage:
    return MediaMessage(AUDIO, ts, b"a" * 10, sequence_header=sh, codec=10)


def meta() -> MediaMessage:
    return MediaMessage(DATA, 0, b"onMetaData")
