"""The internal currency of the live core: one immutable media message.

A :class:`MediaMessage` is what a publisher produced, already classified once on ingest (kind,
keyframe, sequence header, codec) so that the core never re-parses payloads. The payload is the
FLV tag body / RTMP message body, the form SRS keeps too (its "shared message").

Wire forms (RTMP chunks for a chunk size, an FLV tag, ...) are produced by a :class:`WireFormat`
owned by the output side. The Source encodes each message at most once per wire format and shares
the resulting bytes between all players (see :mod:`srs.media.source`).
"""

from __future__ import annotations

from collections.abc import Hashable
from enum import IntEnum
from typing import Protocol


class MessageKind(IntEnum):
    """Same numbers as RTMP message types and FLV tag types, on purpose."""

    AUDIO = 8
    VIDEO = 9
    DATA = 18


AUDIO = MessageKind.AUDIO
VIDEO = MessageKind.VIDEO
DATA = MessageKind.DATA


class MediaMessage:
    """One audio frame, video frame or script-data (metadata) message.

    ``timestamp`` is in milliseconds on the source's timeline (64-bit, never wrapped: wire encoders
    take it modulo 2^32). Attributes are not to be changed after construction; use
    :meth:`with_timestamp` to get a re-timed copy.
    """

    __slots__ = ("codec", "keyframe", "kind", "payload", "rtp", "sequence_header", "timestamp")

    def __init__(
        self,
        kind: int,
        timestamp: int,
        payload: bytes,
        *,
        keyframe: bool = False,
        sequence_header: bool = False,
        codec: int = 0,
        rtp: tuple[bytes, ...] | None = None,
    ) -> None:
        self.kind = kind
        self.timestamp = timestamp
        self.payload = payload
        self.keyframe = keyframe
        self.sequence_header = sequence_header
        self.codec = codec
        # RTP payloads this message came in as (a WebRTC publisher), kept so that WebRTC players get
        # them as they were (no re-packetizing, no audio transcoding): a video frame's payloads in
        # order (marker on the last), or the Opus packets received since the previous audio message
        # (audio messages carry the AAC made from them; the Opus goes to WebRTC players as it came).
        self.rtp = rtp

    def is_audio(self) -> bool:
        return self.kind == AUDIO

    @property
    def is_video(self) -> bool:
        return self.kind == VIDEO

    @property
    def is_av(self) -> bool:
        return self.kind == AUDIO or self.kind == VIDEO

    def with_timestamp(self, timestamp: int) -> MediaMessage:
        if timestamp == self.timestamp:
            return self
        return MediaMessage(
            self.kind,
            timestamp,
            self.payload,
            keyframe=self.keyframe,
            sequence_header=self.sequence_header,
            codec=self.codec,
            rtp=self.rtp,
        )

    def __repr__(self) -> str:
        flags = ("K" if self.keyframe else "") + ("S" if self.sequence_header else "")
        return f"MediaMessage({MessageKind(self.kind).name}, ts={self.timestamp}, {len(self.payload)}B{', ' + flags if flags else ''})"


class WireFormat(Protocol):
    """How an output serializes messages; messages with equal ``key`` share encoded bytes."""

    @property
    def key(self) -> Hashable: ...

    @property
    def preamble(self) -> bytes:
        """Bytes written once before the first message (e.g. the FLV file header)."""
        ...

    def encode(self, msg: MediaMessage) -> bytes:
        """The wire bytes of ``msg``; ``b""`` to leave it out of this format."""
        ...
