"""Message structs: control messages, commands, data messages, aggregates, command shapes."""

from __future__ import annotations

from typing import Any

import pytest

from srs.format import amf0
from srs.format.amf0 import UNDEFINED, EcmaArray
from srs.protocol.rtmp import commands as c
from srs.protocol.rtmp.message import (
    CSID_AUDIO,
    CSID_OVER_CONNECTION2,
    CSID_OVER_STREAM,
    CSID_VIDEO,
    AbortMessage,
    Acknowledgement,
    Command,
    DataMessage,
    MessageType,
    SetChunkSize,
    SetPeerBandwidth,
    UserControl,
    UserControlMessage,
    WindowAckSize,
    is_ffmpeg_timecode,
    media_csid,
    pack_aggregate,
    unpack_aggregate,
)
from srs.util.errors import ErrorCode, ParseError
from unit.protocol.rtmp.rtmp_cases import COMMAND_CASES, CONTROL_CASES, DATA_CASES


def test_enums_have_the_spec_numbers() -> None:
    assert [int(t) for t in MessageType] == [1, 2, 3, 4, 5, 6, 8, 9, 15, 16, 17, 18, 19, 20, 22]
    assert UserControl.STREAM_BEGIN == 0 and UserControl.STREAM_EOF == 1 and UserControl.STREAM_DRY == 2
    assert UserControl.SET_BUFFER_LENGTH == 3 and UserControl.STREAM_IS_RECORDED == 4
    assert UserControl.PING_REQUEST == 6 and UserControl.PING_RESPONSE == 7


def test_media_csid_as_srs() -> None:
    assert media_csid(MessageType.AUDIO) == CSID_AUDIO == 7
    assert media_csid(MessageType.VIDEO) == CSID_VIDEO == 6
    assert media_csid(MessageType.AMF0_DATA) == CSID_OVER_CONNECTION2 == 4
    assert media_csid(MessageType.AMF3_DATA) == 4
    assert media_csid(MessageType.AGGREGATE) == CSID_OVER_STREAM == 5


@pytest.mark.parametrize(("name", "value", "raw"), CONTROL_CASES, ids=[c[0] for c in CONTROL_CASES])
def test_control_round_trip(name: str, value: Any, raw: bytes) -> None:
    assert bytes(value) == raw
    assert type(value).parse(raw) == value


@pytest.mark.parametrize(
    ("cls", "raw"),
    [
        (SetChunkSize, b"\x00\x00\x01"),
        (AbortMessage, b""),
        (Acknowledgement, b"\x00"),
        (WindowAckSize, b"\x00\x00"),
        (SetPeerBandwidth, b"\x00\x00\x00\x01"),
        (UserControlMessage, b"\x00"),
        (UserControlMessage, b"\x00\x06\x00\x00\x01"),
        (UserControlMessage, b"\x00\x03\x00\x00\x00\x01\x00\x00"),
        (UserControlMessage, b"\x00\x1a"),
    ],
)
def test_control_truncated(cls: Any, raw: bytes) -> None:
    with pytest.raises(ParseError) as ei:
        cls.parse(raw)
    assert ei.value.code == ErrorCode.RTMP_MESSAGE_DECODE


@pytest.mark.parametrize(("name", "value", "amf3", "raw"), COMMAND_CASES, ids=[c[0] for c in COMMAND_CASES])
def test_command_round_trip(name: str, value: Command, amf3: bool, raw: bytes) -> None:
    assert value.encode(amf3=amf3) == raw
    assert Command.parse(raw, amf3=amf3) == value


@pytest.mark.parametrize(("name", "value", "amf3", "raw"), DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_data_round_trip(name: str, value: DataMessage, amf3: bool, raw: bytes) -> None:
    assert value.encode(amf3=amf3) == raw
    assert DataMessage.parse(raw, amf3=amf3) == value


def test_amf3_data_without_format_byte_as_srs_sends() -> None:
    raw = amf0.encode("onMetaData", {"width": 1.0})
    assert DataMessage.parse(raw, amf3=True) == DataMessage("onMetaData", ({"width": 1.0},))


def test_amf3_command_skips_any_format_byte() -> None:
    raw = b"\x07" + amf0.encode("play", 0.0, None, "s")
    assert Command.parse(raw, amf3=True) == Command("play", 0.0, None, ("s",))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        amf0.encode(1.0),
        amf0.encode("x"),
        amf0.encode("x", "notanumber", None),
        amf0.encode("x", True, None),
        amf0.encode("x", 1.0),
        b"\x02\x00\x05ab",
    ],
)
def test_command_bad_shapes(raw: bytes) -> None:
    with pytest.raises(ParseError):
        Command.parse(raw)


def test_data_bad_shapes() -> None:
    with pytest.raises(ParseError):
        DataMessage.parse(amf0.encode(1.0, 2.0))
    with pytest.raises(ParseError):
        DataMessage.parse(b"")


def test_strip_set_data_frame() -> None:
    d = DataMessage("@setDataFrame", ("onMetaData", EcmaArray(a=1.0)))
    assert d.strip_set_data_frame() == DataMessage("onMetaData", (EcmaArray(a=1.0),))
    bare = DataMessage("onMetaData", ({},))
    assert bare.strip_set_data_frame() is bare
    odd = DataMessage("@setDataFrame", (1.0,))
    assert odd.strip_set_data_frame() is odd


def test_ffmpeg_timecode() -> None:
    assert is_ffmpeg_timecode(b"\x00\x00\x01\x02")
    assert not is_ffmpeg_timecode(b"\x02\x00\x01\x02")
    assert not is_ffmpeg_timecode(b"\x00\x00\x01")


# --------------------------------------------------------------------------- aggregate


def test_aggregate_exact_bytes_and_rebase() -> None:
    body = (
        bytes.fromhex("09 000003 0003e8 00 000001") + b"vvv" + bytes.fromhex("0000000e")
        + bytes.fromhex("08 000002 000410 00 000001") + b"aa" + bytes.fromhex("0000000d")
    )  # fmt: skip
    # Sub-message times 1000 and 1040 re-based on the aggregate's 5000.
    assert unpack_aggregate(body, 5000) == [(9, 5000, 1, b"vvv"), (8, 5040, 1, b"aa")]
    assert pack_aggregate([(9, 1000, 1, b"vvv"), (8, 1040, 1, b"aa")]) == body


def test_aggregate_round_trip_with_extended_time_byte() -> None:
    msgs = [(9, 0x01000005, 1, b"x" * 10), (8, 0x01000010, 1, b"y"), (9, 0x01000020, 1, b"")]
    assert unpack_aggregate(pack_aggregate(msgs), 0x01000005) == msgs


def test_aggregate_wrap_inside_is_monotonic() -> None:
    msgs = [(9, 0xFFFFFFF0, 1, b"a"), (9, 0x1_0000_0010, 1, b"b")]
    assert [m[1] for m in unpack_aggregate(pack_aggregate(msgs), 100)] == [100, 132]


def test_aggregate_back_pointer_not_checked_like_srs() -> None:
    body = bytearray(pack_aggregate([(9, 0, 1, b"abc")]))
    body[-4:] = b"\xde\xad\xbe\xef"
    assert unpack_aggregate(bytes(body), 7) == [(9, 7, 1, b"abc")]


def test_aggregate_empty() -> None:
    assert unpack_aggregate(b"", 0) == []


@pytest.mark.parametrize(
    "body",
    [
        b"\x09\x00\x00",  # truncated header
        bytes.fromhex("09 000010 000000 00 000001") + b"short",  # size beyond the end
        bytes.fromhex("09 000001 000000 00 000001") + b"x",  # missing back pointer
    ],
)
def test_aggregate_bad(body: bytes) -> None:
    with pytest.raises(ParseError) as ei:
        unpack_aggregate(body, 0)
    assert ei.value.code == ErrorCode.RTMP_AGGREGATE


# --------------------------------------------------------------------------- command shapes (SRS decode)


def cmd(name: str, tid: float, obj: Any, *args: Any) -> Command:
    return Command(name, tid, obj, args)


def test_decode_connect() -> None:
    pkt = c.decode_command(cmd("connect", 1.0, {"tcUrl": "rtmp://h/a"}, {"k": "v"}))
    assert pkt == c.ConnectApp(1.0, {"tcUrl": "rtmp://h/a"}, {"k": "v"})
    # Non-object args are dropped (ossrs/srs#186).
    assert c.decode_command(cmd("connect", 1.0, {}, "str")) == c.ConnectApp(1.0, {}, None)


@pytest.mark.parametrize(
    "bad",
    [
        cmd("connect", 1.0, None),
        cmd("connect", 1.0, EcmaArray(tcUrl="x")),
        cmd("createStream", 2.0, {}),
        cmd("closeStream", 0.0, UNDEFINED),
        cmd("releaseStream", 2.0, None),
        cmd("FCPublish", 3.0, None, 1.0),
        cmd("publish", 0.0, None),
        cmd("publish", 0.0, None, "s", 1.0),
        cmd("play", 0.0, None),
        cmd("play", 0.0, None, "s", "x"),
        cmd("play", 0.0, None, "s", -2.0, -1.0, "yes"),
        cmd("pause", 0.0, None),
        cmd("pause", 0.0, None, True),
        cmd("pause", 0.0, None, 1.0, 2.0),
        cmd("", 0.0, None),
    ],
)
def test_decode_bad_shapes(bad: Command) -> None:
    with pytest.raises(ParseError) as ei:
        c.decode_command(bad)
    assert ei.value.code == ErrorCode.RTMP_AMF0_DECODE


def test_decode_shapes() -> None:
    assert c.decode_command(cmd("createStream", 4.0, None)) == c.CreateStream(4.0)
    assert c.decode_command(cmd("closeStream", 0.0, None)) == c.CloseStream(0.0)
    assert c.decode_command(cmd("FCUnpublish", 6.0, None, "s")) == c.FmleStart("FCUnpublish", 6.0, "s")
    assert c.decode_command(cmd("publish", 5.0, None, "s")) == c.Publish(5.0, "s", "live")
    assert c.decode_command(cmd("publish", 5.0, None, "s", "record")) == c.Publish(5.0, "s", "record")
    assert c.decode_command(cmd("play", 0.0, None, "s")) == c.Play(0.0, "s", -2.0, -1.0, True)
    assert c.decode_command(cmd("play", 0.0, None, "s", 0.0, 3000.0, 0.0)) == c.Play(
        0.0, "s", 0.0, 3000.0, False
    )
    assert c.decode_command(cmd("play", 0.0, None, "s", -1.0, -1.0, False)).reset is False  # type: ignore[union-attr]
    assert c.decode_command(cmd("pause", 0.0, None, True, 1234.0)) == c.Pause(0.0, True, 1234.0)
    assert isinstance(c.decode_command(cmd("_result", 1.0, None)), c.Result)
    assert c.decode_command(cmd("_error", 1.0, None)).error  # type: ignore[union-attr]
    assert isinstance(c.decode_command(cmd("@setDataFrame", 0.0, None)), c.Other)
    call = c.decode_command(cmd("_checkbw", 5.0, None))
    assert isinstance(call, c.Call) and call.name == "_checkbw" and call.transaction_id == 5.0


def test_play2_as_play() -> None:
    call = c.Call(cmd("play2", 0.0, None, {"streamName": "s2", "start": 0.0, "len": 500.0}))
    assert c.play2_as_play(call) == c.Play(0.0, "s2", 0.0, 500.0, True)
    assert c.play2_as_play(c.Call(cmd("play2", 0.0, None))) is None
    assert c.play2_as_play(c.Call(cmd("play2", 0.0, None, {"streamName": 1.0}))) is None
