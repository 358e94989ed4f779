"""ServerSession: every command/reply sequence of SRS, checked on the decoded wire output."""

from __future__ import annotations

import struct
from typing import Any

import pytest

import srs
from srs.format import amf0
from srs.format.amf0 import UNDEFINED, EcmaArray
from srs.protocol.rtmp.chunk import ByteBudget, ChunkReader, RawMessage, encode_message
from srs.protocol.rtmp.events import (
    AcknowledgementReceived,
    ChunkSizeChanged,
    ClientType,
    ConnectRequested,
    Event,
    HandshakeCompleted,
    MediaReceived,
    MetadataReceived,
    PauseRequested,
    PlayRequested,
    PublishRequested,
    RedirectAnswered,
    StreamClosed,
    UnpublishRequested,
    WindowAckSizeChanged,
)
from srs.protocol.rtmp.handshake import make_c0c1
from srs.protocol.rtmp.message import Command, DataMessage, MessageType, pack_aggregate
from srs.protocol.rtmp.server import (
    PRELOGIN_MAX_BUFFERED,
    PRELOGIN_MAX_MESSAGE_SIZE,
    ServerSession,
    ServerState,
)
from srs.protocol.rtmp.testing import EPOCH_MS, seeded_random
from srs.util.errors import ErrorCode, LocalProtocolError, ProtocolError, SrsError

TC_URL = "rtmp://127.0.0.1:1935/live"


class Driver:
    """Plays the client by hand: builds chunks, feeds the server, decodes what it sends back."""

    def __init__(self, *, complex_handshake: bool = True, **kwargs: Any) -> None:
        self.s = ServerSession(random_bytes=seeded_random(1), epoch_ms=EPOCH_MS, **kwargs)
        c0c1 = make_c0c1(
            random_bytes=seeded_random(2), epoch_ms=EPOCH_MS, complex_handshake=complex_handshake
        )
        assert self.s.receive_data(c0c1) == []
        assert len(b"".join(self.s.data_to_send())) == 3073
        self.hs_events = self.s.receive_data(b"\x00" * 1536)
        self.reader = ChunkReader()  # decodes the server's output, following its chunk size
        self.chunk_size = 128  # what we (the client) send with

    def feed(self, data: bytes) -> list[Event]:
        return self.s.receive_data(data)

    def msg(self, msg_type: int, payload: bytes, *, csid: int = 3, sid: int = 0, ts: int = 0) -> list[Event]:
        return self.feed(encode_message(csid, ts, msg_type, sid, payload, self.chunk_size))

    def command(
        self, name: str, tid: float, obj: Any, *args: Any, sid: int = 0, amf3: bool = False
    ) -> list[Event]:
        body = Command(name, tid, obj, args).encode(amf3=amf3)
        t = MessageType.AMF3_COMMAND if amf3 else MessageType.AMF0_COMMAND
        return self.msg(t, body, csid=5 if sid else 3, sid=sid)

    def sent(self) -> list[RawMessage]:
        return self.reader.feed(b"".join(self.s.data_to_send()))

    def sent_commands(self) -> list[tuple[int, int, Command]]:
        """(csid, stream id, command) of every command sent; fails on anything else."""
        out = []
        for m in self.sent():
            assert m.msg_type == MessageType.AMF0_COMMAND, m
            out.append((m.csid, m.stream_id, Command.parse(m.payload)))
        return out

    def connect(self, **obj: Any) -> ConnectRequested:
        props = {"app": "live", "tcUrl": TC_URL, **obj}
        events = self.command("connect", 1.0, props)
        assert len(events) == 1 and isinstance(events[0], ConnectRequested)
        return events[0]

    def accept(self, chunk_size: int = 60000, out_ack_size: int = 2_500_000) -> list[RawMessage]:
        self.s.accept_connect(
            chunk_size=chunk_size,
            out_ack_size=out_ack_size,
            server_ip="10.0.0.1",
            client_id="abc12345",
            pid=321,
        )
        return self.sent()

    def connected(self) -> Driver:
        self.connect()
        self.accept()
        return self


def status_cmd(level: str, code: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"level": level, "code": code, "description": description, **extra}


def test_handshake_event() -> None:
    d = Driver()
    assert d.hs_events == [HandshakeCompleted(None, True)]
    assert d.s.state is ServerState.AWAIT_CONNECT and d.s.handshake_complex
    assert Driver(complex_handshake=False).hs_events == [HandshakeCompleted(None, False)]


def test_connect_requested_fields() -> None:
    d = Driver()
    body = Command(
        "connect",
        1.0,
        {"app": "live", "tcUrl": TC_URL, "pageUrl": "http://p", "swfUrl": "http://s", "objectEncoding": 3.0},
        ({"token": "t"},),
    ).encode()
    (ev,) = d.msg(MessageType.AMF0_COMMAND, body)
    assert isinstance(ev, ConnectRequested)
    assert (ev.transaction_id, ev.tc_url, ev.page_url, ev.swf_url, ev.object_encoding) == (
        1.0,
        TC_URL,
        "http://p",
        "http://s",
        3.0,
    )
    assert ev.command_object["app"] == "live" and ev.args == {"token": "t"}
    assert d.s.state is ServerState.CONNECTING and d.s.tc_url == TC_URL


def test_accept_connect_sends_srs_sequence() -> None:
    d = Driver()
    d.connect(objectEncoding=3.0)
    wack, bw, scs, result, bwdone = d.accept()
    assert (wack.csid, wack.msg_type, wack.stream_id, wack.payload) == (2, 5, 0, struct.pack(">I", 2_500_000))
    assert (bw.csid, bw.msg_type, bw.payload) == (2, 6, struct.pack(">IB", 2_500_000, 2))
    assert (scs.csid, scs.msg_type, scs.payload) == (2, 1, struct.pack(">I", 60000))
    assert d.s.out_chunk_size == 60000
    assert (result.csid, result.stream_id, result.msg_type) == (3, 0, 20)
    cmd = Command.parse(result.payload)
    assert (cmd.name, cmd.transaction_id) == ("_result", 1.0)
    assert cmd.command_object == {"fmsVer": "FMS/3,5,3,888", "capabilities": 127.0, "mode": 1.0}
    (info,) = cmd.args
    assert list(info) == ["level", "code", "description", "objectEncoding", "data"]
    assert info["level"] == "status" and info["code"] == "NetConnection.Connect.Success"
    assert info["description"] == "Connection succeeded" and info["objectEncoding"] == 3.0
    data = info["data"]
    assert isinstance(data, EcmaArray)
    assert data == {
        "version": "3,5,3,888",
        "srs_sig": "SRS",
        "srs_server": "SRS/7.0.18(Hang)",
        "srs_license": "MIT",
        "srs_url": "https://github.com/ossrs/srs",
        "srs_version": "7.0.18",
        "srs_authors": srs.AUTHORS,
        "srs_server_ip": "10.0.0.1",
        "srs_pid": 321.0,
        "srs_id": "abc12345",
    }
    assert list(data) == list(
        [
            "version",
            "srs_sig",
            "srs_server",
            "srs_license",
            "srs_url",
            "srs_version",
            "srs_authors",
            "srs_server_ip",
            "srs_pid",
            "srs_id",
        ]
    )
    assert Command.parse(bwdone.payload) == Command("onBWDone", 0.0, None)
    assert (bwdone.csid, bwdone.stream_id) == (3, 0)
    assert d.s.state is ServerState.IDENTIFY


def test_connect_result_is_tid_1_and_encoding_defaults_to_0() -> None:
    d = Driver()
    d.feed(encode_message(3, 0, 20, 0, Command("connect", 7.0, {"tcUrl": TC_URL}).encode(), 128))
    msgs = d.accept(out_ack_size=0)
    assert [m.msg_type for m in msgs] == [6, 1, 20, 20]  # no window ack size when 0
    result = Command.parse(msgs[2].payload)
    assert result.transaction_id == 1.0 and result.args[0]["objectEncoding"] == 0.0


def test_connect_without_tcurl_fails() -> None:
    d = Driver()
    with pytest.raises(ProtocolError) as ei:
        d.command("connect", 1.0, {"app": "live"})
    assert ei.value.code == ErrorCode.RTMP_REQ_CONNECT
    assert d.s.state is ServerState.FAILED
    with pytest.raises(LocalProtocolError):
        d.feed(b"\x00")


def test_before_connect_other_commands_are_dropped() -> None:
    d = Driver()
    assert d.command("createStream", 2.0, None) == []
    assert d.msg(MessageType.AUDIO, b"\xaf\x01", csid=4, sid=1) == []
    assert d.sent() == []
    assert isinstance(d.connect(), ConnectRequested)


def test_connect_bad_shape_fails() -> None:
    d = Driver()
    with pytest.raises(SrsError) as ei:
        d.command("connect", 1.0, None)
    assert ei.value.code == ErrorCode.RTMP_AMF0_DECODE


def test_fmle_publish_sequence() -> None:
    d = Driver().connected()
    assert d.command("releaseStream", 2.0, None, "livestream?k=v") == []
    assert d.sent_commands() == [(3, 0, Command("_result", 2.0, None, (UNDEFINED,)))]
    assert d.s.client_type is ClientType.FMLE_PUBLISH and d.s.stream_name == "livestream?k=v"
    assert d.command("FCPublish", 3.0, None, "livestream?k=v") == []
    assert d.sent_commands() == [(3, 0, Command("_result", 3.0, None, (UNDEFINED,)))]
    assert d.command("createStream", 4.0, None) == []
    assert d.sent_commands() == [(3, 0, Command("_result", 4.0, None, (1.0,)))]
    (ev,) = d.command("publish", 5.0, None, "other-name", "live", sid=1)
    # SRS compat: the stream name is the one of releaseStream.
    assert ev == PublishRequested(5.0, "livestream?k=v", "live", ClientType.FMLE_PUBLISH)
    fc = {"code": "NetStream.Publish.Start", "description": "Started publishing stream."}
    assert d.sent_commands() == [(5, 1, Command("onFCPublish", 0.0, None, (fc,)))]
    assert d.s.state is ServerState.PUBLISH_PENDING
    d.s.accept_publish()
    start = status_cmd("status", "NetStream.Publish.Start", "Started publishing stream.", clientid="ASAICiss")
    (sent,) = d.sent_commands()
    assert sent == (5, 1, Command("onStatus", 0.0, None, (start,)))
    assert list(sent[2].args[0]) == ["level", "code", "description", "clientid"]
    assert d.s.state is ServerState.PUBLISHING


def test_fmle_expect_states_drop_other_messages() -> None:
    d = Driver().connected()
    d.command("releaseStream", 2.0, None, "s")
    d.sent()
    assert d.command("_checkbw", 3.0, None) == []  # dropped: start_fmle_publish expects FCPublish
    assert d.command("createStream", 3.0, None) == []  # dropped too
    assert d.sent() == []
    d.command("FCPublish", 4.0, None, "s")
    d.command("play", 0.0, None, "s")  # dropped while createStream is expected
    d.command("createStream", 5.0, None)
    assert [c.args for _, _, c in d.sent_commands()] == [(UNDEFINED,), (1.0,)]


def test_flash_publish_sequence() -> None:
    d = Driver().connected()
    d.command("createStream", 2.0, None)
    assert d.sent_commands() == [(3, 0, Command("_result", 2.0, None, (1.0,)))]
    (ev,) = d.command("publish", 0.0, None, "flashstream", "record", sid=1)
    assert ev == PublishRequested(0.0, "flashstream", "record", ClientType.FLASH_PUBLISH)
    assert d.sent() == []  # no onFCPublish for Flash
    d.s.accept_publish()
    (_, sid, cmd) = d.sent_commands()[0]
    assert sid == 1 and cmd.args[0]["code"] == "NetStream.Publish.Start"


def test_haivision_publish_sequence() -> None:
    d = Driver().connected()
    d.command("_checkbw", 2.0, None)  # Haivision encoders start so (ossrs/srs#844)
    assert d.sent_commands() == [(3, 0, Command("_result", 2.0, None, (None,)))]
    d.command("createStream", 3.0, None)
    d.sent()
    assert d.command("FCPublish", 4.0, None, "hai") == []
    assert d.sent_commands() == [(3, 0, Command("_result", 4.0, None, (UNDEFINED,)))]
    (ev,) = d.command("publish", 5.0, None, "hai", sid=1)
    assert ev == PublishRequested(5.0, "hai", "live", ClientType.HAIVISION_PUBLISH)
    assert [c.name for _, _, c in d.sent_commands()] == ["onFCPublish"]


def test_play_sequence() -> None:
    d = Driver().connected()
    d.command("createStream", 2.0, None)
    d.sent()
    assert d.command("getStreamLength", 3.0, None, "s") == []  # ignored after createStream
    assert d.sent() == []
    (ev,) = d.command("play", 4.0, None, "livestream", -1000.0, 5000.0, False, sid=1)
    assert ev == PlayRequested(4.0, "livestream", -1000.0, 5000.0, False)
    assert d.s.client_type is ClientType.PLAY and d.s.state is ServerState.PLAY_PENDING
    d.s.start_play()
    begin, reset, start, access = d.sent()
    assert (begin.csid, begin.msg_type, begin.stream_id, begin.payload) == (
        2,
        4,
        0,
        bytes.fromhex("000000000001"),
    )
    for m in (reset, start):
        assert (m.csid, m.msg_type, m.stream_id) == (5, 20, 1)
    assert Command.parse(reset.payload).args == (
        status_cmd(
            "status",
            "NetStream.Play.Reset",
            "Playing and resetting stream.",
            details="stream",
            clientid="ASAICiss",
        ),
    )
    assert Command.parse(start.payload).args == (
        status_cmd(
            "status", "NetStream.Play.Start", "Started playing stream.", details="stream", clientid="ASAICiss"
        ),
    )
    assert (access.csid, access.msg_type, access.stream_id) == (5, 18, 1)
    assert access.payload == b"\x02\x00\x11|RtmpSampleAccess\x01\x01\x01\x01"
    assert d.s.state is ServerState.PLAYING


def test_play_without_create_stream_and_defaults() -> None:
    d = Driver().connected()
    (ev,) = d.command("play", 0.0, None, "s")
    assert ev == PlayRequested(0.0, "s", -2.0, -1.0, True)


def test_play2_is_accepted_for_identification() -> None:
    d = Driver().connected()
    (ev,) = d.command("play2", 0.0, None, {"streamName": "p2", "start": 0.0})
    assert ev == PlayRequested(0.0, "p2", 0.0, -1.0, True)
    d2 = Driver().connected()
    d2.command("createStream", 2.0, None)
    assert d2.command("play2", 0.0, None, {"bad": 1.0}) == []
    (ev,) = d2.command("play2", 0.0, None, {"streamName": "p3", "len": 100.0})
    assert ev == PlayRequested(0.0, "p3", -2.0, 100.0, True)


def test_identify_replies_to_unknown_calls_even_with_tid_0() -> None:
    d = Driver().connected()
    d.command("someCall", 0.0, None)
    d.command("deleteStream", 9.0, None, 1.0)
    d.command("closeStream", 0.0, None)  # a known packet but not a call: ignored
    assert d.sent_commands() == [
        (3, 0, Command("_result", 0.0, None, (None,))),
        (3, 0, Command("_result", 9.0, None, (None,))),
    ]


def test_identify_ignores_non_commands_and_results() -> None:
    d = Driver().connected()
    assert d.msg(MessageType.AMF0_DATA, DataMessage("onMetaData", ({},)).encode(), csid=4) == []
    assert d.command("_result", 1.0, None) == []
    assert d.command("publish", 0.0, None, "s") == []  # publish before createStream: ignored as SRS
    assert d.sent() == []


def test_create_stream_depth_limit() -> None:
    d = Driver().connected()
    for tid in (2.0, 3.0, 4.0):
        d.command("createStream", tid, None)
    assert [c.transaction_id for _, _, c in d.sent_commands()] == [2.0, 3.0, 4.0]
    with pytest.raises(ProtocolError) as ei:
        d.command("createStream", 5.0, None)
    assert ei.value.code == ErrorCode.RTMP_CREATE_STREAM_DEPTH
    assert d.sent() == []


def test_amf3_commands_are_understood() -> None:
    d = Driver().connected()
    d.command("createStream", 2.0, None, amf3=True)
    assert d.sent_commands() == [(3, 0, Command("_result", 2.0, None, (1.0,)))]


def playing() -> Driver:
    d = Driver().connected()
    d.command("createStream", 2.0, None)
    d.command("play", 0.0, None, "s", sid=1)
    d.s.start_play()
    d.sent()
    return d


def test_pause_and_unpause() -> None:
    d = playing()
    assert d.command("pause", 0.0, None, True, 1500.0, sid=1) == [PauseRequested(True, 1500.0)]
    note, eof = d.sent()
    assert (note.csid, note.stream_id) == (5, 1)
    assert Command.parse(note.payload).args == (
        status_cmd("status", "NetStream.Pause.Notify", "Paused stream."),
    )
    assert (eof.csid, eof.msg_type, eof.payload) == (2, 4, bytes.fromhex("000100000001"))
    assert d.s.paused
    assert d.command("pause", 0.0, None, False, 1500.0, sid=1) == [PauseRequested(False, 1500.0)]
    note, begin = d.sent()
    assert Command.parse(note.payload).args == (
        status_cmd("status", "NetStream.Unpause.Notify", "Unpaused stream."),
    )
    assert begin.payload == bytes.fromhex("000000000001")
    assert not d.s.paused


def test_playing_calls() -> None:
    d = playing()
    assert d.command("getStreamLength", 5.0, None, "s") == []
    d.command("_checkbw", 0.0, None)  # tid 0: no answer wanted (ossrs/srs#106)
    assert d.sent_commands() == [(3, 0, Command("_result", 5.0, None, (None,)))]
    assert d.msg(MessageType.AUDIO, b"\xaf\x01x", csid=4, sid=1) == []  # a player's media is ignored


def test_close_stream_then_play_again() -> None:
    d = playing()
    assert d.command("closeStream", 0.0, None, sid=1) == [StreamClosed()]
    assert d.s.state is ServerState.IDENTIFY and d.s.client_type is None
    assert d.sent() == []
    (ev,) = d.command("play", 0.0, None, "again", sid=1)
    assert ev.stream_name == "again"  # type: ignore[attr-defined]


def test_delete_stream_while_playing_closes() -> None:
    d = playing()
    assert d.command("deleteStream", 6.0, None, 1.0) == [StreamClosed()]
    assert d.sent_commands() == [(3, 0, Command("_result", 6.0, None, (None,)))]


def publishing(client_type: ClientType = ClientType.FMLE_PUBLISH) -> Driver:
    d = Driver().connected()
    if client_type is ClientType.FMLE_PUBLISH:
        d.command("releaseStream", 2.0, None, "s")
        d.command("FCPublish", 3.0, None, "s")
        d.command("createStream", 4.0, None)
    else:
        d.command("createStream", 4.0, None)
    d.command("publish", 5.0, None, "s", sid=1)
    d.s.accept_publish()
    d.sent()
    return d


def test_fcunpublish_then_republish() -> None:
    d = publishing()
    assert d.command("FCUnpublish", 6.0, None, "s") == [UnpublishRequested(6.0)]
    unpub = {"code": "NetStream.Unpublish.Success", "description": "Stop publishing stream."}
    status = status_cmd(
        "status", "NetStream.Unpublish.Success", "Stream is now unpublished", clientid="ASAICiss"
    )
    assert d.sent_commands() == [
        (5, 1, Command("onFCUnpublish", 0.0, None, (unpub,))),
        (3, 1, Command("_result", 6.0, None, (UNDEFINED,))),
        (5, 1, Command("onStatus", 0.0, None, (status,))),
    ]
    assert d.s.state is ServerState.IDENTIFY
    d.command("releaseStream", 7.0, None, "s2")
    d.command("FCPublish", 8.0, None, "s2")
    d.command("createStream", 9.0, None)
    (ev,) = d.command("publish", 10.0, None, "s2", sid=1)
    assert ev == PublishRequested(10.0, "s2", "live", ClientType.FMLE_PUBLISH)


def test_fmle_publisher_ignores_other_commands() -> None:
    d = publishing()
    assert d.command("someCall", 3.0, None) == []
    assert d.sent() == []
    assert d.command("deleteStream", 7.0, None, 1.0) == [StreamClosed()]


def test_flash_publisher_any_command_ends_the_publish() -> None:
    d = publishing(ClientType.FLASH_PUBLISH)
    assert d.command("whatever", 0.0, None) == [StreamClosed()]
    assert d.s.state is ServerState.IDENTIFY and d.sent() == []


def test_publishing_media_and_metadata() -> None:
    d = publishing()
    d.chunk_size = 4096
    assert d.msg(MessageType.SET_CHUNK_SIZE, struct.pack(">I", 4096), csid=2) == [ChunkSizeChanged(4096)]
    assert d.s.in_chunk_size == 4096
    video = b"\x17\x01\x00\x00\x00" + bytes(3000)
    assert d.msg(MessageType.VIDEO, video, csid=6, sid=1, ts=40) == [MediaReceived(9, 40, 1, video)]
    meta = DataMessage("@setDataFrame", ("onMetaData", EcmaArray(width=640.0, duration=0.0))).encode()
    (ev,) = d.msg(MessageType.AMF0_DATA, meta, csid=4, sid=1)
    assert ev == MetadataReceived(0, "onMetaData", (EcmaArray(width=640.0, duration=0.0),), meta)
    bare = DataMessage("onMetaData", ({"a": 1.0},)).encode()
    assert d.msg(MessageType.AMF0_DATA, bare, csid=4, sid=1) == [
        MetadataReceived(0, "onMetaData", ({"a": 1.0},), bare)
    ]
    amf3 = b"\x00" + amf0.encode("@setDataFrame", "onMetaData", {"b": 2.0})
    (ev,) = d.msg(MessageType.AMF3_DATA, amf3, csid=4, sid=1)
    assert isinstance(ev, MetadataReceived) and ev.values == ({"b": 2.0},)
    assert ev.payload == amf0.encode("@setDataFrame", "onMetaData", {"b": 2.0})  # re-encoded as AMF0
    # Other data and FFmpeg's timecode are dropped, like SRS.
    assert d.msg(MessageType.AMF0_DATA, DataMessage("onTextData", ("x",)).encode(), csid=4, sid=1) == []
    assert d.msg(MessageType.AMF0_DATA, b"\x00\x00\x00\x01", csid=4, sid=1) == []
    agg = pack_aggregate(
        [(9, 100, 1, b"\x27\x01v"), (18, 110, 1, b"\x02\x00\x01x"), (8, 120, 1, b"\xaf\x01a")]
    )
    assert d.msg(MessageType.AGGREGATE, agg, csid=6, sid=1, ts=1000) == [
        MediaReceived(9, 1000, 1, b"\x27\x01v"),
        MediaReceived(8, 1020, 1, b"\xaf\x01a"),
    ]


def test_publishing_bad_metadata_fails_like_srs() -> None:
    d = publishing()
    with pytest.raises(SrsError):
        d.msg(MessageType.AMF0_DATA, amf0.encode(1.0, 2.0), csid=4, sid=1)


def test_ping_is_answered() -> None:
    d = Driver().connected()
    assert d.msg(MessageType.USER_CONTROL, bytes.fromhex("000600000d0f"), csid=2) == []
    (pong,) = d.sent()
    assert (pong.csid, pong.msg_type, pong.payload) == (2, 4, bytes.fromhex("000700000d0f"))


def test_set_buffer_length_is_remembered() -> None:
    d = Driver().connected()
    d.msg(MessageType.USER_CONTROL, bytes.fromhex("00030000000100000bb8"), csid=2)
    assert d.s.buffer_length_ms == 3000 and d.sent() == []


def test_acknowledgements_every_half_window() -> None:
    d = Driver().connected()
    assert d.msg(MessageType.WINDOW_ACK_SIZE, struct.pack(">I", 1000), csid=2) == [WindowAckSizeChanged(1000)]
    # As SRS, the check runs before a message is handled: the window applies from the next one.
    assert [m for m in d.sent() if m.msg_type == MessageType.ACKNOWLEDGEMENT] == []
    d.msg(MessageType.AUDIO, b"\xaf\x01", csid=4, sid=1)
    (ack,) = [m for m in d.sent() if m.msg_type == MessageType.ACKNOWLEDGEMENT]
    total = d.s.bytes_received
    assert (ack.csid, ack.stream_id, ack.payload) == (2, 0, struct.pack(">I", total)) and total > 3073
    d.msg(MessageType.AUDIO, b"\xaf\x01" + bytes(100), csid=4, sid=1)
    assert [m for m in d.sent() if m.msg_type == 3] == []  # about 100 bytes < 500
    d.msg(MessageType.AUDIO, b"\xaf\x01" + bytes(450), csid=4, sid=1)
    (ack,) = [m for m in d.sent() if m.msg_type == 3]
    assert ack.payload == struct.pack(">I", d.s.bytes_received)


def test_configured_in_ack_size() -> None:
    d = Driver(in_ack_size=10_000)
    d.connect()
    assert [m for m in d.sent() if m.msg_type == 3] == []  # 3073+1536+connect < 5000
    d.accept()
    d.command("x", 0.0, None, "y" * 2000)
    assert [struct.unpack(">I", m.payload)[0] for m in d.sent() if m.msg_type == 3] == [d.s.bytes_received]


def test_acknowledgement_from_peer_is_reported() -> None:
    d = Driver().connected()
    assert d.msg(MessageType.ACKNOWLEDGEMENT, struct.pack(">I", 777), csid=2) == [
        AcknowledgementReceived(777)
    ]
    assert d.msg(MessageType.ACKNOWLEDGEMENT, b"\x01", csid=2) == []  # short: ignored, SRS never decodes it


def test_messages_while_waiting_are_held_until_the_decision() -> None:
    d = Driver()
    connect = Command("connect", 1.0, {"tcUrl": TC_URL}).encode()
    release = Command("releaseStream", 2.0, None, ("s",)).encode()
    events = d.feed(encode_message(3, 0, 20, 0, connect, 128) + encode_message(3, 0, 20, 0, release, 128))
    assert [type(e) for e in events] == [ConnectRequested]
    assert d.sent() == []  # nothing answered before accept_connect
    msgs = d.accept()
    names = [Command.parse(m.payload).name for m in msgs if m.msg_type == 20]
    assert names == ["_result", "onBWDone", "_result"]  # connect replies first, then releaseStream's
    assert d.s.pending_events() == []
    assert d.s.state is ServerState.FMLE_FCPUBLISH


def test_media_before_accept_publish_is_held() -> None:
    d = Driver().connected()
    d.command("createStream", 2.0, None)
    d.command("publish", 0.0, None, "s", sid=1)
    assert d.msg(MessageType.VIDEO, b"\x17\x00abc", csid=6, sid=1, ts=0) == []
    assert d.msg(MessageType.AUDIO, b"\xaf\x00ab", csid=4, sid=1, ts=0) == []
    d.sent()
    d.s.accept_publish()
    assert d.s.pending_events() == [
        MediaReceived(9, 0, 1, b"\x17\x00abc"),
        MediaReceived(8, 0, 1, b"\xaf\x00ab"),
    ]
    assert d.s.pending_events() == []
    # Held events are also returned at the front of the next receive_data.
    d2 = Driver().connected()
    d2.command("play", 0.0, None, "s")
    d2.command("pause", 0.0, None, True, 0.0)
    d2.s.start_play()
    assert d2.msg(MessageType.AUDIO, b"x", csid=4) == [PauseRequested(True, 0.0)]


def test_bad_held_message_fails_at_the_next_call() -> None:
    d = Driver().connected()
    d.command("play", 0.0, None, "s")
    d.command("pause", 0.0, None, "bad")
    d.s.start_play()
    with pytest.raises(SrsError):
        d.s.pending_events()
    assert d.s.state is ServerState.FAILED


def test_holding_is_bounded() -> None:
    d = Driver(max_message_size=1000).connected()
    d.command("play", 0.0, None, "s")
    with pytest.raises(ProtocolError):
        for _ in range(10):
            d.msg(MessageType.AUDIO, bytes(500), csid=4, sid=1)


def test_redirect() -> None:
    d = playing()
    d.s.send_redirect("rtmp://10.0.0.2:1935/live", "rtmp://10.0.0.2:1935/live/s?k=v")
    (csid, sid, cmd) = d.sent_commands()[0]
    assert (csid, sid, cmd.name, cmd.transaction_id, cmd.command_object) == (5, 0, "onStatus", 0.0, None)
    ex = {
        "code": 302.0,
        "redirect": "rtmp://10.0.0.2:1935/live",
        "redirect2": "rtmp://10.0.0.2:1935/live/s?k=v",
    }
    assert cmd.args == (status_cmd("error", "NetConnection.Connect.Rejected", "RTMP 302 Redirect", ex=ex),)
    assert d.command("onRedirect", 0.0, None, "ok") == [RedirectAnswered(True)]
    assert d.command("onRedirect", 0.0, None) == [RedirectAnswered(False)]


def test_reject_connect() -> None:
    d = Driver()
    d.connect()
    d.s.reject_connect("denied by hook")
    assert d.sent_commands() == [
        (
            5,
            0,
            Command(
                "onStatus",
                0.0,
                None,
                (status_cmd("error", "NetConnection.Connect.Rejected", "denied by hook"),),
            ),
        )
    ]


def test_api_misuse_is_a_local_error() -> None:
    d = Driver()
    with pytest.raises(LocalProtocolError):
        d.s.start_play()
    d.connect()
    with pytest.raises(LocalProtocolError):
        d.s.accept_publish()


def test_send_helpers() -> None:
    d = playing()
    d.s.send_media(MessageType.VIDEO, 0x01000000, b"\x17\x01" + bytes(70000))
    d.s.send_media(MessageType.AUDIO, 5, b"\xaf\x01")
    d.s.send_media(MessageType.AMF0_DATA, 0, amf0.encode("onMetaData", {}))
    d.s.send_data("onCuePoint", {"name": "x"}, timestamp=9)
    d.s.send_raw(encode_message(6, 1, 9, 1, b"raw", d.s.out_chunk_size))
    v, a, meta, cue, raw = d.sent()
    assert (v.csid, v.stream_id, v.timestamp, len(v.payload)) == (6, 1, 0x01000000, 70002)
    assert (a.csid, a.msg_type, a.timestamp) == (7, 8, 5)
    assert (meta.csid, meta.msg_type) == (4, 18)
    assert (cue.csid, cue.msg_type, cue.timestamp, cue.payload) == (
        5,
        18,
        9,
        amf0.encode("onCuePoint", {"name": "x"}),
    )
    assert raw.payload == b"raw"


def test_proxy_ip_reaches_the_session() -> None:
    s = ServerSession(random_bytes=seeded_random(1), epoch_ms=EPOCH_MS)
    c0c1 = make_c0c1(random_bytes=seeded_random(2), epoch_ms=EPOCH_MS)
    s.receive_data(b"\xf3\x00\x04\xc0\xa8\x01\x02" + c0c1)
    (ev,) = s.receive_data(b"\x00" * 1536)
    assert ev == HandshakeCompleted("192.168.1.2", True) and s.proxy_ip == "192.168.1.2"


def test_chunks_right_after_c2_in_the_same_read() -> None:
    s = ServerSession(random_bytes=seeded_random(1), epoch_ms=EPOCH_MS)
    c0c1 = make_c0c1(random_bytes=seeded_random(2), epoch_ms=EPOCH_MS)
    connect = encode_message(3, 0, 20, 0, Command("connect", 1.0, {"tcUrl": TC_URL}).encode(), 128)
    events = s.receive_data(c0c1 + b"\x00" * 1536 + connect)
    assert [type(e) for e in events] == [HandshakeCompleted, ConnectRequested]
    assert s.bytes_received == 1537 + 1536 + len(connect)


def test_ack_sequence_resets_near_the_top_like_srs() -> None:
    d = Driver(in_ack_size=1000).connected()
    d.s._ack_sequence = 0xF0000000 - 10  # as after ~4 GB received
    d.msg(MessageType.AUDIO, b"\xaf\x01" + bytes(600), csid=4, sid=1)
    (ack,) = [m for m in d.sent() if m.msg_type == MessageType.ACKNOWLEDGEMENT]
    # sequence would pass 0xf0000000: SRS restarts it from the delta since the last ack.
    assert struct.unpack(">I", ack.payload)[0] < 0x1000


# ---------------------------------------------------------------- limits before a publisher is accepted


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        (PRELOGIN_MAX_MESSAGE_SIZE - 200, True),  # a long token in the tcUrl still connects
        (PRELOGIN_MAX_MESSAGE_SIZE + 1, False),
        (15 << 20, False),  # the 15 MB tcUrl that used to cost the loop a second and a half
    ],
)
def test_connect_size_is_capped_before_login(size: int, ok: bool) -> None:
    d = Driver()
    tc_url = TC_URL + "?token=" + "a" * size
    if ok:
        assert d.connect(tcUrl=tc_url).tc_url == tc_url
        return
    body = Command("connect", 1.0, {"app": "live", "tcUrl": tc_url}, ()).encode()
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        # The header alone is refused: the payload is never buffered.
        d.feed(encode_message(3, 0, MessageType.AMF0_COMMAND, 0, body, 128)[:200])


def test_partial_messages_before_login_are_bounded() -> None:
    d = Driver()
    d.msg(MessageType.SET_CHUNK_SIZE, struct.pack(">I", 4096), csid=2)
    whole = encode_message(4, 0, MessageType.VIDEO, 1, bytes(PRELOGIN_MAX_MESSAGE_SIZE), 4096)
    part = whole[: 12 + 4096 + 8 * 4097]  # 9 of 16 chunks: 36 KiB of a 64 KiB message
    with pytest.raises(ProtocolError, match="partial messages exceed"):
        for csid in range(4, 64):  # each chunk stream starts a message and sends half of it
            d.feed(bytes([csid]) + part[1:])
    assert d.s._reader.buffered_bytes <= PRELOGIN_MAX_BUFFERED + 4096


def test_players_keep_the_small_limit_publishers_get_the_full_one() -> None:
    d = playing()
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        d.msg(MessageType.AMF0_DATA, bytes(PRELOGIN_MAX_MESSAGE_SIZE + 1), csid=6, sid=1)
    p = publishing()
    events = p.msg(MessageType.VIDEO, b"\x17\x01" + bytes(1 << 20), csid=6, sid=1)
    assert [type(e) for e in events] == [MediaReceived]


def test_shared_budget_bounds_all_sessions_and_is_released() -> None:
    budget = ByteBudget(300_000)
    sessions = []
    for _ in range(3):
        d = Driver(budget=budget)
        d.connected()
        d.command("createStream", 4.0, None)
        d.command("publish", 5.0, None, "s", sid=1)
        d.s.accept_publish()
        d.sent()
        d.msg(MessageType.SET_CHUNK_SIZE, struct.pack(">I", 128 << 10), csid=2)
        sessions.append(d)
    head = encode_message(6, 0, MessageType.VIDEO, 1, bytes(1 << 20), 128 << 10)
    sessions[0].feed(bytes([0x06]) + head[1:140_000])  # partial: 140 KB held
    sessions[1].feed(bytes([0x06]) + head[1:140_000])
    assert budget.used > 270_000
    with pytest.raises(ProtocolError, match="all connections"):
        sessions[2].feed(bytes([0x06]) + head[1:140_000])
    sessions[0].s.release()
    sessions[2].s.release()
    assert 0 < budget.used < 140_000
    sessions[1].s.release()
    assert budget.used == 0
