"""Typed views of the commands an RTMP server must understand, decoded as strictly as SRS does.

SRS (``SrsProtocol::do_decode_message``) picks a packet class by command name and each class reads
a fixed shape; a wrong shape is a decode error that closes the connection (ERROR_RTMP_AMF0_DECODE).
Unknown names become a generic call. Shapes (Adobe RTMP specification 1.0, section 7.2):

========================================  ==============================================
name                                      body after name and transaction id
========================================  ==============================================
connect                                   object [, optional args (dropped unless object)]
createStream / closeStream                null
releaseStream / FCPublish / FCUnpublish   null, stream name
publish                                   null, stream name [, type string]
play                                      null, stream name [, start [, duration [, reset]]]
pause                                     null, paused (boolean), time (number)
anything else                             any command object [, arguments]
========================================  ==============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from srs.format.amf0 import EcmaArray, TypedObject
from srs.protocol.rtmp.message import Command
from srs.util.errors import ErrorCode, ParseError

CONNECT = "connect"
CREATE_STREAM = "createStream"
CLOSE_STREAM = "closeStream"
DELETE_STREAM = "deleteStream"
RELEASE_STREAM = "releaseStream"
FC_PUBLISH = "FCPublish"
FC_UNPUBLISH = "FCUnpublish"
PUBLISH = "publish"
PLAY = "play"
PLAY2 = "play2"
PAUSE = "pause"
RESULT = "_result"
ERROR = "_error"
ON_STATUS = "onStatus"
ON_BW_DONE = "onBWDone"
ON_FC_PUBLISH = "onFCPublish"
ON_FC_UNPUBLISH = "onFCUnpublish"
CHECK_BW = "_checkbw"
GET_STREAM_LENGTH = "getStreamLength"
SET_DATA_FRAME = "@setDataFrame"
ON_METADATA = "onMetaData"
SAMPLE_ACCESS = "|RtmpSampleAccess"


def _err(cmd: Command, what: str) -> ParseError:
    return ParseError(f"rtmp {cmd.name}: {what}", ErrorCode.RTMP_AMF0_DECODE)


def _is_object(v: Any) -> bool:
    """An AMF0 anonymous object (marker 0x03): a plain dict, not an ECMA array or typed object."""
    return isinstance(v, dict) and not isinstance(v, EcmaArray | TypedObject)


def _require_null(cmd: Command) -> None:
    if cmd.command_object is not None:
        raise _err(cmd, "command object must be null")


def _string_arg(cmd: Command, i: int, what: str) -> str:
    if len(cmd.args) <= i or not isinstance(cmd.args[i], str):
        raise _err(cmd, f"{what} must be a string")
    v: str = cmd.args[i]
    return v


def _number_arg(cmd: Command, i: int, what: str, default: float) -> float:
    if len(cmd.args) <= i:
        return default
    v = cmd.args[i]
    if not isinstance(v, float):
        raise _err(cmd, f"{what} must be a number")
    return v


def _number_arg_required(cmd: Command, i: int, what: str) -> float:
    if len(cmd.args) <= i:
        raise _err(cmd, f"missing {what}")
    return _number_arg(cmd, i, what, 0.0)


@dataclass(frozen=True, slots=True)
class ConnectApp:
    transaction_id: float
    command_object: dict[str, Any]
    args: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class CreateStream:
    transaction_id: float


@dataclass(frozen=True, slots=True)
class CloseStream:
    transaction_id: float


@dataclass(frozen=True, slots=True)
class FmleStart:
    """releaseStream, FCPublish or FCUnpublish (SRS's SrsFMLEStartPacket)."""

    name: str
    transaction_id: float
    stream_name: str


@dataclass(frozen=True, slots=True)
class Publish:
    transaction_id: float
    stream_name: str
    publish_type: str = "live"


@dataclass(frozen=True, slots=True)
class Play:
    transaction_id: float
    stream_name: str
    start: float = -2.0
    duration: float = -1.0
    reset: bool = True


@dataclass(frozen=True, slots=True)
class Pause:
    transaction_id: float
    paused: bool
    time_ms: float


@dataclass(frozen=True, slots=True)
class Result:
    """``_result`` or ``_error`` (an answer, not a request)."""

    command: Command

    @property
    def error(self) -> bool:
        return self.command.name == ERROR


@dataclass(frozen=True, slots=True)
class Call:
    """Any other named call (SrsCallPacket), e.g. ``_checkbw``, ``getStreamLength``, ``deleteStream``."""

    command: Command

    @property
    def name(self) -> str:
        return self.command.name

    @property
    def transaction_id(self) -> float:
        return self.command.transaction_id


@dataclass(frozen=True, slots=True)
class Other:
    """Decoded but neither a request SRS acts on nor a call (``@setDataFrame`` sent as a command)."""

    command: Command


Packet = ConnectApp | CreateStream | CloseStream | FmleStart | Publish | Play | Pause | Result | Call | Other


def decode_command(cmd: Command) -> Packet:
    """Classify and validate ``cmd`` as SRS does; raise :class:`ParseError` on a wrong shape."""
    name = cmd.name
    tid = cmd.transaction_id
    if name in (RESULT, ERROR):
        return Result(cmd)
    if name == CONNECT:
        if not _is_object(cmd.command_object):
            raise _err(cmd, "command object must be an object")
        # The optional user args may be any AMF0 value; SRS drops them unless an object (ossrs/srs#186).
        args = cmd.args[0] if cmd.args and _is_object(cmd.args[0]) else None
        return ConnectApp(tid, cmd.command_object, args)
    if name == CREATE_STREAM:
        _require_null(cmd)
        return CreateStream(tid)
    if name == CLOSE_STREAM:
        _require_null(cmd)
        return CloseStream(tid)
    if name in (RELEASE_STREAM, FC_PUBLISH, FC_UNPUBLISH):
        _require_null(cmd)
        return FmleStart(name, tid, _string_arg(cmd, 0, "stream name"))
    if name == PUBLISH:
        _require_null(cmd)
        stream = _string_arg(cmd, 0, "stream name")
        kind = _string_arg(cmd, 1, "publish type") if len(cmd.args) > 1 else "live"
        return Publish(tid, stream, kind)
    if name == PLAY:
        _require_null(cmd)
        stream = _string_arg(cmd, 0, "stream name")
        start = _number_arg(cmd, 1, "start", -2.0)
        duration = _number_arg(cmd, 2, "duration", -1.0)
        reset = True
        if len(cmd.args) > 3:
            value = cmd.args[3]
            if isinstance(value, bool):
                reset = value
            elif isinstance(value, float):
                reset = value != 0
            else:
                raise _err(cmd, "reset must be a boolean or a number")
        return Play(tid, stream, start, duration, reset)
    if name == PAUSE:
        _require_null(cmd)
        if not cmd.args or not isinstance(cmd.args[0], bool):
            raise _err(cmd, "pause flag must be a boolean")
        return Pause(tid, cmd.args[0], _number_arg_required(cmd, 1, "time"))
    if name in (SET_DATA_FRAME, ON_METADATA):
        return Other(cmd)
    if not name:
        raise _err(cmd, "empty command name")
    return Call(cmd)


def play2_as_play(call: Call) -> Play | None:
    """``play2`` (NetStream.play2 options object) seen as a play: streamName, start, len.

    SRS treats play2 as an unknown call; we accept it for identification (an extension).
    """
    args = call.command.args
    if not args or not isinstance(args[0], dict):
        return None
    opts = args[0]
    stream = opts.get("streamName")
    if not isinstance(stream, str):
        return None
    start = opts.get("start", -2.0)
    length = opts.get("len", -1.0)
    return Play(
        call.transaction_id,
        stream,
        start if isinstance(start, float) else -2.0,
        length if isinstance(length, float) else -1.0,
        True,
    )
