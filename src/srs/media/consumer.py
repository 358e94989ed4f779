"""A player's view of a Source: a cursor into the source's shared ring.

SRS gives each consumer its own queue of shared messages. We keep one ring of messages per source
and give each consumer a cursor into it (MediaMTX's reader ring): enqueueing a message costs the
same for 1 or 10,000 players, and the "queue" of a consumer is the ring between its cursor and
the head. A consumer whose queue spans more than ``queue_length`` of media is moved forward to
the latest keyframe (whole GOPs dropped, and counted), so the publisher never waits for a player
and the ring stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from srs.media.message import MediaMessage, WireFormat

if TYPE_CHECKING:
    from srs.media.source import Source


class NotYet:
    """``choose_wire``'s answer "keep these messages and ask me again at the next flush"."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_YET"


NOT_YET = NotYet()


class Sink(Protocol):
    """What a consumer writes to: implemented by each output adapter (RTMP play, HTTP-FLV, ...)."""

    def choose_wire(self, first: Sequence[MediaMessage]) -> WireFormat | NotYet | None:
        """Called before the first write with the messages about to be delivered.

        Return the wire format for this player (e.g. FLV with header flags guessed from these
        messages); :data:`NOT_YET` to wait for more messages (they stay queued and the call is
        repeated at the next flush); or ``None`` when it cannot start: those messages are skipped.
        """
        ...

    def write(self, bufs: list[bytes], nbytes: int) -> bool:
        """Write a batch of wire buffers (one ``writelines``); ``nbytes`` is their total size.

        ``bufs`` may be shared with other players of the same wire: never mutate it. Returns
        whether the sink can take more (False once its transport is backed up or closing: the
        Source then asks :meth:`writable` before writing again).
        """
        ...

    def writable(self) -> bool:
        """False while the transport is backed up; the consumer then waits in the ring."""
        ...

    def on_unpublish(self) -> None:
        """The publisher left (after the last flush)."""
        ...

    def on_limit_reached(self) -> None:
        """The play ``duration`` the player asked for has been delivered."""
        ...


class Consumer:
    """One player attached to a :class:`~srs.media.source.Source`."""

    __slots__ = (
        "closed",
        "cursor",
        "dropped_msgs",
        "drops",
        "fast",
        "limit_ms",
        "paused",
        "prefix",
        "sent_msgs",
        "sink",
        "source",
        "start_ts",
        "wait_keyframe",
        "wire",
    )

    def __init__(self, source: Source, sink: Sink, cursor: int, prefix: list[MediaMessage]) -> None:
        self.source = source
        self.sink = sink
        self.cursor = cursor  # sequence number of the next ring message to deliver
        self.prefix: list[MediaMessage] | None = prefix or None  # metadata + sequence headers for a newcomer
        self.wire: WireFormat | None = None  # chosen at the first delivery
        self.paused = False
        self.closed = False
        self.wait_keyframe = False
        self.dropped_msgs = 0  # messages skipped because this player was too slow
        self.drops = 0  # how many times whole GOPs were dropped
        self.sent_msgs = 0
        self.limit_ms: int | None = None  # RTMP play duration
        self.start_ts: int | None = None
        # True while the Source may take its fast path for this player: started, nothing special
        # (see is_plain) and writable at the last write. Anything that changes that clears it;
        # only the Source's general path sets it again, after checking everything.
        self.fast = False

    @property
    def is_plain(self) -> bool:
        """Started, open, not paused, not waiting for a keyframe, no play duration."""
        return (
            self.wire is not None
            and not self.closed
            and not self.paused
            and not self.wait_keyframe
            and self.limit_ms is None
        )

    @property
    def queued(self) -> int:
        """Messages waiting in the ring for this consumer."""
        return max(0, self.source.head - self.cursor)

    def pause(self, paused: bool) -> None:
        self.paused = paused
        self.fast = False
        if not paused:
            self.source.request_flush(self)

    def set_duration_limit(self, duration_ms: int | None) -> None:
        """Stop after ``duration_ms`` of media (RTMP ``play`` duration argument)."""
        self.limit_ms = duration_ms if duration_ms is not None and duration_ms > 0 else None
        self.fast = False

    def close(self) -> None:
        """Detach from the source (idempotent)."""
        if not self.closed:
            self.closed = True
            self.fast = False
            self.source.remove_consumer(self)
