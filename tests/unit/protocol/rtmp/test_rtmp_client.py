"""ClientSession against a hand-played server: command sequences and event decoding."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from srs.format import amf0
from srs.format.amf0 import UNDEFINED
from srs.protocol.rtmp.chunk import ChunkReader, RawMessage, encode_message
from srs.protocol.rtmp.client import ClientSession, app_from_tc_url
from srs.protocol.rtmp.events import (
    ClientType,
    CommandReceived,
    Connected,
    HandshakeCompleted,
    MediaReceived,
    MetadataReceived,
    ResultReceived,
    StatusReceived,
    StreamCreated,
    UserControlReceived,
)
from srs.protocol.rtmp.handshake import FP_KEY_OPEN, make_s0s1s2, validate_digest
from srs.protocol.rtmp.message import Command, DataMessage, MessageType
from srs.protocol.rtmp.testing import EPOCH_MS, seeded_random
from srs.util.errors import LocalProtocolError


class FakeServer:
    def __init__(self, *, complex_handshake: bool = True) -> None:
        self.c = ClientSession(
            random_bytes=seeded_random(3), epoch_ms=EPOCH_MS, complex_handshake=complex_handshake
        )
        (c0c1,) = self.c.data_to_send()
        self.c0c1 = c0c1
        s0s1s2, _ = make_s0s1s2(c0c1[1:], random_bytes=seeded_random(4), epoch_ms=EPOCH_MS)
        self.hs_events = self.c.receive_data(s0s1s2)
        (c2,) = self.c.data_to_send()
        assert len(c2) == 1536
        self.reader = ChunkReader()

    def sent(self) -> list[RawMessage]:
        return self.reader.feed(b"".join(self.c.data_to_send()))

    def sent_commands(self) -> list[tuple[int, Command]]:
        return [(m.stream_id, Command.parse(m.payload)) for m in self.sent() if m.msg_type == 20]

    def reply(self, name: str, tid: float, obj: Any, *args: Any, sid: int = 0) -> list[Any]:
        body = Command(name, tid, obj, args).encode()
        return self.c.receive_data(encode_message(3, 0, 20, sid, body, 128))


def test_c0c1_at_construction_and_handshake() -> None:
    f = FakeServer()
    assert f.c0c1[0] == 3 and validate_digest(f.c0c1[1:], FP_KEY_OPEN) == 1
    assert f.hs_events == [HandshakeCompleted(None, True)] and f.c.handshake_done
    assert FakeServer(complex_handshake=False).hs_events == [HandshakeCompleted(None, False)]


def test_commands_need_the_handshake() -> None:
    c = ClientSession(random_bytes=seeded_random(3), epoch_ms=EPOCH_MS)
    with pytest.raises(LocalProtocolError):
        c.connect("rtmp://h/live")


def test_connect_command_like_srs_client() -> None:
    f = FakeServer()
    assert f.c.connect("rtmp://h:1935/live?x=1", args={"token": "t"}, flashVer="FMLE/3.0") == 1.0
    connect, wack = f.sent()
    cmd = Command.parse(connect.payload)
    assert (connect.csid, connect.stream_id, cmd.name, cmd.transaction_id) == (3, 0, "connect", 1.0)
    assert cmd.command_object == {
        "app": "live?x=1",
        "flashVer": "FMLE/3.0",
        "swfUrl": "",
        "tcUrl": "rtmp://h:1935/live?x=1",
        "fpad": False,
        "capabilities": 239.0,
        "audioCodecs": 3575.0,
        "videoCodecs": 252.0,
        "videoFunction": 1.0,
        "pageUrl": "",
        "objectEncoding": 0.0,
    }
    assert cmd.args == ({"token": "t"},)
    assert (wack.msg_type, wack.payload) == (5, struct.pack(">I", 2_500_000))


def test_connected_and_errors() -> None:
    f = FakeServer()
    f.c.connect("rtmp://h/live")
    info = {"level": "status", "code": "NetConnection.Connect.Success"}
    assert f.reply("_result", 1.0, {"fmsVer": "FMS/3,5,3,888"}, info) == [
        Connected(info, {"fmsVer": "FMS/3,5,3,888"})
    ]
    assert f.c.connected
    g = FakeServer()
    g.c.connect("rtmp://h/live")
    assert g.reply("_error", 1.0, None, {"code": "NetConnection.Connect.Rejected"}) == [
        ResultReceived(1.0, None, ({"code": "NetConnection.Connect.Rejected"},), True)
    ]
    assert not g.c.connected


def test_fmle_publish_order_like_ffmpeg() -> None:
    f = FakeServer()
    f.c.publish("livestream")
    assert f.sent_commands() == [
        (0, Command("releaseStream", 2.0, None, ("livestream",))),
        (0, Command("FCPublish", 3.0, None, ("livestream",))),
        (0, Command("createStream", 4.0, None)),
    ]
    assert f.reply("_result", 2.0, None, UNDEFINED) == [ResultReceived(2.0, None, (UNDEFINED,))]
    assert f.reply("_result", 4.0, None, 1.0) == [StreamCreated(1)]
    assert f.sent_commands() == [(1, Command("publish", 5.0, None, ("livestream", "live")))]
    start = {"level": "status", "code": "NetStream.Publish.Start"}
    assert f.reply("onStatus", 0.0, None, start, sid=1) == [StatusReceived(start, 1)]
    assert f.c.publishing


def test_flash_and_haivision_publish_orders() -> None:
    f = FakeServer()
    f.c.publish("s", client_type=ClientType.FLASH_PUBLISH, publish_type="record")
    assert [c.name for _, c in f.sent_commands()] == ["createStream"]
    f.reply("_result", 2.0, None, 1.0)
    assert f.sent_commands() == [(1, Command("publish", 3.0, None, ("s", "record")))]
    h = FakeServer()
    h.c.publish("s", client_type=ClientType.HAIVISION_PUBLISH)
    h.sent()
    h.reply("_result", 2.0, None, 1.0)
    assert [(sid, c.name) for sid, c in h.sent_commands()] == [(0, "FCPublish"), (1, "publish")]
    with pytest.raises(LocalProtocolError):
        h.c.publish("s", client_type=ClientType.PLAY)


def test_play_with_options_and_buffer_length() -> None:
    f = FakeServer()
    f.c.play("s", start=0.0, duration=3000.0, buffer_ms=2000)
    f.sent()
    f.reply("_result", 2.0, None, 1.0)
    play, buffer_length = f.sent()
    assert Command.parse(play.payload) == Command("play", 3.0, None, ("s", 0.0, 3000.0))
    assert (play.stream_id, play.csid) == (1, 5)
    assert (buffer_length.msg_type, buffer_length.payload) == (4, bytes.fromhex("000300000001000007d0"))
    # With a stream already created, play goes out at once; reset=False adds all arguments.
    f.c.play("t", reset=False)
    (play2, _) = f.sent()
    assert Command.parse(play2.payload).args == ("t", -2.0, -1.0, False)


def test_other_commands() -> None:
    f = FakeServer()
    assert f.reply("_result", 4.0, None, 1.0) == [ResultReceived(4.0, None, (1.0,))]  # unknown transaction
    f.c.create_stream()
    f.sent()
    f.reply("_result", 2.0, None, 1.0)
    f.c.pause(True, 1000.0)
    f.c.unpublish("s")
    f.c.close_stream()
    f.c.delete_stream()
    tid = f.c.call("_checkbw", None)
    assert f.sent_commands() == [
        (1, Command("pause", 0.0, None, (True, 1000.0))),
        (0, Command("FCUnpublish", 3.0, None, ("s",))),
        (1, Command("closeStream", 0.0, None)),
        (0, Command("deleteStream", 4.0, None, (1.0,))),
        (0, Command("_checkbw", 5.0, None)),
    ]
    assert tid == 5.0
    (ev,) = f.reply("onBWDone", 0.0, None)
    assert isinstance(ev, CommandReceived) and ev.command.name == "onBWDone"


def test_received_media_data_and_user_control() -> None:
    f = FakeServer()
    data = DataMessage("onMetaData", ({"width": 1.0},)).encode()
    agg = b"\x08\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x00\x0c"
    events = f.c.receive_data(
        encode_message(2, 0, 4, 0, bytes.fromhex("000000000001"), 128)
        + encode_message(4, 0, 18, 1, data, 128)
        + encode_message(4, 0, 18, 1, DataMessage("|RtmpSampleAccess", (True, True)).encode(), 128)
        + encode_message(6, 40, 9, 1, b"\x17\x01", 128)
        + encode_message(6, 50, 22, 1, agg, 128)
        + encode_message(2, 0, 4, 0, bytes.fromhex("000600000010"), 128)
    )
    assert events == [
        UserControlReceived(0, 1),
        MetadataReceived(0, "onMetaData", ({"width": 1.0},), data),
        MetadataReceived(
            0, "|RtmpSampleAccess", (True, True), DataMessage("|RtmpSampleAccess", (True, True)).encode()
        ),
        MediaReceived(9, 40, 1, b"\x17\x01"),
        MediaReceived(8, 50, 1, b"a"),
    ]
    (pong,) = f.sent()
    assert pong.payload == bytes.fromhex("000700000010")


def test_send_media_and_metadata() -> None:
    f = FakeServer()
    f.c.create_stream()
    f.sent()
    f.reply("_result", 2.0, None, 1.0)
    f.c.send_metadata({"width": 640.0})
    f.c.send_metadata({"width": 640.0}, set_data_frame=False, timestamp=5)
    f.c.send_media(MessageType.AUDIO, 23, b"\xaf\x01")
    meta, bare, audio = f.sent()
    assert DataMessage.parse(meta.payload) == DataMessage("@setDataFrame", ("onMetaData", {"width": 640.0}))
    assert meta.payload == amf0.encode("@setDataFrame", "onMetaData", amf0.EcmaArray(width=640.0))
    assert (bare.timestamp, DataMessage.parse(bare.payload).name) == (5, "onMetaData")
    assert (audio.csid, audio.stream_id, audio.timestamp, audio.payload) == (7, 1, 23, b"\xaf\x01")


def test_app_from_tc_url() -> None:
    assert app_from_tc_url("rtmp://h/live") == "live"
    assert app_from_tc_url("rtmp://h:19350/a/b?vhost=v") == "a/b?vhost=v"
    assert app_from_tc_url("rtmp://h") == ""
