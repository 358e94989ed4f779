"""What every file output's Source consumer shares (HLS, DASH, DVR): a wire of its own key whose
``encode`` hands each message, once and in order, to the output's sans-IO core and returns
``b""``, and a sink that is always writable and never limited (the core's file actions run on a
worker thread, so the consumer never holds messages back)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from srs.media.message import MediaMessage


class FeedWire:
    __slots__ = ("deliver", "key")
    preamble = b""

    def __init__(self, deliver: Callable[[MediaMessage], None], key: Hashable) -> None:
        self.deliver = deliver
        self.key = key

    def encode(self, msg: MediaMessage) -> bytes:
        self.deliver(msg)
        return b""


class FeedSink:
    """The :class:`~srs.media.consumer.Sink` part of a file output; subclasses set ``wire`` and
    define ``on_message`` and ``on_unpublish``."""

    wire: FeedWire

    def choose_wire(self, first: Sequence[MediaMessage]) -> FeedWire:
        return self.wire

    def write(self, bufs: list[bytes], nbytes: int) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def on_limit_reached(self) -> None:
        """Never limited."""
