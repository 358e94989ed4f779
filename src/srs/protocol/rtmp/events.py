"""Events produced by the sans-IO RTMP sessions: facts, in the past tense."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from srs.protocol.rtmp.message import Command


class ClientType(StrEnum):
    """What an RTMP client turned out to be, with SRS's names (``srs_client_type_string``)."""

    PLAY = "rtmp-play"
    FMLE_PUBLISH = "fmle-publish"
    FLASH_PUBLISH = "flash-publish"
    HAIVISION_PUBLISH = "haivision-publish"

    @property
    def is_publish(self) -> bool:
        return self is not ClientType.PLAY


class Event:
    """Base of every RTMP session event."""

    __slots__ = ()


# --------------------------------------------------------------------------- both sides


@dataclass(frozen=True, slots=True)
class HandshakeCompleted(Event):
    proxy_ip: str | None = None  # real client IPv4 from an RTMP proxy header (0xF3), server side
    complex: bool = False  # the digest (complex) handshake was used


@dataclass(frozen=True, slots=True)
class ChunkSizeChanged(Event):
    """The peer announced a new chunk size (applies to what we receive)."""

    size: int


@dataclass(frozen=True, slots=True)
class WindowAckSizeChanged(Event):
    """The peer announced its window: we acknowledge every ``size / 2`` bytes (as SRS)."""

    size: int


@dataclass(frozen=True, slots=True)
class AcknowledgementReceived(Event):
    seq: int  # the peer's count of bytes received from us


@dataclass(frozen=True, slots=True)
class MediaReceived(Event):
    """An audio (8) or video (9) message; aggregates arrive already unpacked."""

    msg_type: int
    timestamp: int
    stream_id: int
    payload: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class MetadataReceived(Event):
    """A data message. ``@setDataFrame`` is stripped: ``name`` is e.g. ``onMetaData``, ``values[0]``
    the metadata object. ``payload`` is the original AMF0 body (with ``@setDataFrame`` if it had
    one), or the values re-encoded as AMF0 when the message was AMF3 (type 15)."""

    timestamp: int
    name: str
    values: tuple[Any, ...]
    payload: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class UserControlReceived(Event):
    """A user control event other than ping (StreamBegin, StreamEOF, ...); client side."""

    event_type: int
    value: int
    extra: int = 0


# --------------------------------------------------------------------------- server side


@dataclass(frozen=True, slots=True)
class ConnectRequested(Event):
    transaction_id: float
    tc_url: str
    page_url: str
    swf_url: str
    object_encoding: float
    command_object: dict[str, Any] = field(repr=False)
    args: dict[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class PlayRequested(Event):
    transaction_id: float
    stream_name: str
    start: float = -2.0
    duration: float = -1.0  # ms; SRS stops the player after that much media when > 0
    reset: bool = True


@dataclass(frozen=True, slots=True)
class PublishRequested(Event):
    transaction_id: float
    stream_name: str
    publish_type: str
    client_type: ClientType


@dataclass(frozen=True, slots=True)
class UnpublishRequested(Event):
    """FCUnpublish (or another FMLE start command) while publishing; the replies are already queued."""

    transaction_id: float


@dataclass(frozen=True, slots=True)
class PauseRequested(Event):
    paused: bool
    time_ms: float


@dataclass(frozen=True, slots=True)
class StreamClosed(Event):
    """A player or publisher closed its stream (closeStream, deleteStream, a Flash publisher's call)."""


@dataclass(frozen=True, slots=True)
class RedirectAnswered(Event):
    """The client's reply to an RTMP 302; SRS counts it accepted when the argument is a string."""

    accepted: bool


# --------------------------------------------------------------------------- client side


@dataclass(frozen=True, slots=True)
class Connected(Event):
    """The connect ``_result``: ``info`` has level/code/description/data, ``props`` fmsVer etc."""

    info: dict[str, Any]
    props: Any = None


@dataclass(frozen=True, slots=True)
class StreamCreated(Event):
    stream_id: int


@dataclass(frozen=True, slots=True)
class StatusReceived(Event):
    """An ``onStatus`` call (info object: level, code, description, ...)."""

    info: dict[str, Any]
    stream_id: int = 0


@dataclass(frozen=True, slots=True)
class ResultReceived(Event):
    """A ``_result`` / ``_error`` for a call the session did not consume itself."""

    transaction_id: float
    command_object: Any
    args: tuple[Any, ...]
    error: bool = False


@dataclass(frozen=True, slots=True)
class CommandReceived(Event):
    """Any other command from the server (onBWDone, onFCPublish, |RtmpSampleAccess calls, ...)."""

    command: Command
    stream_id: int = 0
