"""ClientSession <-> ServerSession wired in memory: the flows real clients use, end to end."""

from __future__ import annotations

from typing import Any

import pytest

from srs.format.amf0 import EcmaArray
from srs.protocol.rtmp.events import (
    AcknowledgementReceived,
    ChunkSizeChanged,
    ClientType,
    Connected,
    ConnectRequested,
    Event,
    HandshakeCompleted,
    MediaReceived,
    MetadataReceived,
    PauseRequested,
    PlayRequested,
    PublishRequested,
    ResultReceived,
    StatusReceived,
    StreamClosed,
    StreamCreated,
    UnpublishRequested,
    UserControlReceived,
)
from srs.protocol.rtmp.message import MessageType, UserControl
from srs.protocol.rtmp.server import ServerState
from srs.protocol.rtmp.testing import Loopback

TC_URL = "rtmp://127.0.0.1:1935/live"


def of(events: list[Event], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def codes(events: list[Event]) -> list[str]:
    return [e.info.get("code") for e in events if isinstance(e, StatusReceived)]


def connected(**kwargs: Any) -> Loopback:
    lb = Loopback.create(**kwargs)
    lb.pump()
    lb.client.connect(TC_URL)
    lb.pump()
    assert lb.client.connected
    return lb


@pytest.mark.parametrize("complex_handshake", [True, False])
@pytest.mark.parametrize("step", [None, 1, 7, 1000])
def test_connect(complex_handshake: bool, step: int | None) -> None:
    lb = Loopback.create(complex_handshake=complex_handshake)
    server_events, client_events = lb.pump(step=step)
    assert server_events == [HandshakeCompleted(None, complex_handshake)]
    assert client_events == [HandshakeCompleted(None, complex_handshake)]
    lb.client.connect(TC_URL)
    server_events, client_events = lb.pump(step=step)
    (req,) = of(server_events, ConnectRequested)
    assert req.tc_url == TC_URL and req.command_object["app"] == "live"
    (conn,) = of(client_events, Connected)
    assert conn.info["code"] == "NetConnection.Connect.Success"
    assert conn.info["data"]["srs_server"] == "SRS/7.0.18(Hang)" and conn.info["data"]["srs_id"] == "k3y0n2x7"
    assert conn.props["fmsVer"] == "FMS/3,5,3,888"
    assert of(client_events, ChunkSizeChanged) == [ChunkSizeChanged(60000)]
    assert lb.client.in_chunk_size == 60000 and lb.server.out_chunk_size == 60000
    assert lb.server.state is ServerState.IDENTIFY


def frames(n: int, *, start: int = 0, step_ms: int = 40, size: int = 5000) -> list[tuple[int, int, bytes]]:
    out = []
    for i in range(n):
        ts = start + i * step_ms
        if i % 2:
            out.append((MessageType.AUDIO, ts, b"\xaf\x01" + bytes([i & 0xFF]) * 200))
        else:
            key = b"\x17" if i % 50 == 0 else b"\x27"
            out.append((MessageType.VIDEO, ts, key + b"\x01\x00\x00\x00" + bytes([i & 0xFF]) * size))
    return out


def publish(
    lb: Loopback, name: str = "livestream", client_type: ClientType = ClientType.FMLE_PUBLISH
) -> None:
    lb.client.publish(name, client_type=client_type)
    server_events, client_events = lb.pump()
    (req,) = of(server_events, PublishRequested)
    assert (req.stream_name, req.client_type) == (name, client_type)
    assert "NetStream.Publish.Start" in codes(client_events)
    assert lb.client.publishing and lb.server.state is ServerState.PUBLISHING


def test_fmle_publish_with_media_flowing() -> None:
    lb = connected()
    lb.client.publish("livestream")
    server_events, client_events = lb.pump()
    # ffmpeg's order and the replies: releaseStream/FCPublish results, the stream, onFCPublish, onStatus.
    assert [type(e) for e in client_events] == [
        ResultReceived,
        ResultReceived,
        StreamCreated,
        type(client_events[3]),  # onFCPublish arrives as a command
        StatusReceived,
    ]
    assert client_events[3].command.name == "onFCPublish"
    assert of(server_events, PublishRequested) == [
        PublishRequested(5.0, "livestream", "live", ClientType.FMLE_PUBLISH)
    ]
    lb.client.send_metadata({"width": 640.0, "height": 360.0, "duration": 0.0})
    sent = frames(400, size=8000)
    for t, ts, payload in sent:
        lb.client.send_media(t, ts, payload)
    server_events, client_events = lb.pump()
    (meta,) = of(server_events, MetadataReceived)
    assert meta.name == "onMetaData" and meta.values[0] == EcmaArray(width=640.0, height=360.0, duration=0.0)
    media = of(server_events, MediaReceived)
    assert [(m.msg_type, m.timestamp, m.payload) for m in media] == sent
    assert all(m.stream_id == 1 for m in media)
    # Over 1 MB went up: the server acknowledged (every half of the client's 2.5 MB window).
    assert lb.client_bytes > 1_250_000
    acks = of(client_events, AcknowledgementReceived)
    assert acks and acks[0].seq >= 1_250_000


def test_publish_with_larger_client_chunk_size() -> None:
    lb = connected()
    lb.client.set_chunk_size(4096)
    publish(lb)
    lb.client.send_media(MessageType.VIDEO, 0, b"\x17\x00" + bytes(10000))
    server_events, _ = lb.pump(step=333)
    assert ChunkSizeChanged(4096) in lb.server_events
    assert of(server_events, MediaReceived) == [MediaReceived(9, 0, 1, b"\x17\x00" + bytes(10000))]


@pytest.mark.parametrize("client_type", [ClientType.FLASH_PUBLISH, ClientType.HAIVISION_PUBLISH])
def test_flash_and_haivision_publish(client_type: ClientType) -> None:
    lb = connected()
    publish(lb, "s1", client_type)
    lb.client.send_media(MessageType.AUDIO, 10, b"\xaf\x00\x12\x10")
    server_events, _ = lb.pump()
    assert of(server_events, MediaReceived) == [MediaReceived(8, 10, 1, b"\xaf\x00\x12\x10")]


def test_play_with_checkbw_and_get_stream_length_noise() -> None:
    lb = connected()
    tid = lb.client.call("_checkbw", None)
    _, client_events = lb.pump()
    assert of(client_events, ResultReceived) == [ResultReceived(tid, None, (None,))]
    lb.client.create_stream()
    lb.pump()
    lb.client.call("getStreamLength", None, "livestream")  # ignored after createStream, as SRS
    lb.client.play("livestream")
    server_events, client_events = lb.pump()
    assert of(server_events, PlayRequested) == [PlayRequested(5.0, "livestream", -2.0, -1.0, True)]
    assert codes(client_events) == ["NetStream.Play.Reset", "NetStream.Play.Start"]
    assert UserControlReceived(UserControl.STREAM_BEGIN, 1) in client_events
    (access,) = of(client_events, MetadataReceived)
    assert (access.name, access.values) == ("|RtmpSampleAccess", (True, True))
    assert lb.server.buffer_length_ms == 1000
    # The server application sends media; the player gets it.
    lb.server.send_media(MessageType.AMF0_DATA, 0, b"\x02\x00\x0aonMetaData\x03\x00\x00\x09")
    sent = frames(100, size=70000)
    for t, ts, payload in sent:
        lb.server.send_media(t, ts, payload)
    _, client_events = lb.pump()
    media = of(client_events, MediaReceived)
    assert [(m.msg_type, m.timestamp, m.payload) for m in media] == sent
    assert of(client_events, MetadataReceived)[0].name == "onMetaData"
    # The player acknowledged the server's 2.5 MB window.
    assert lb.server_bytes > 1_250_000 and of(lb.server_events, AcknowledgementReceived)


def test_pause_and_unpause() -> None:
    lb = connected()
    lb.client.play("s")
    lb.pump()
    lb.client.pause(True, 2000.0)
    server_events, client_events = lb.pump()
    assert server_events == [PauseRequested(True, 2000.0)]
    assert codes(client_events) == ["NetStream.Pause.Notify"]
    assert UserControlReceived(UserControl.STREAM_EOF, 1) in client_events
    lb.client.pause(False, 2000.0)
    server_events, client_events = lb.pump()
    assert server_events == [PauseRequested(False, 2000.0)]
    assert codes(client_events) == ["NetStream.Unpause.Notify"]
    assert UserControlReceived(UserControl.STREAM_BEGIN, 1) in client_events


def test_fcunpublish_then_republish_on_the_same_connection() -> None:
    lb = connected()
    publish(lb)
    lb.client.send_media(MessageType.VIDEO, 0, b"\x17\x00abc")
    lb.client.unpublish("livestream")
    server_events, client_events = lb.pump()
    assert server_events == [MediaReceived(9, 0, 1, b"\x17\x00abc"), UnpublishRequested(6.0)]
    assert codes(client_events) == ["NetStream.Unpublish.Success"]
    assert not lb.client.publishing and lb.server.state is ServerState.IDENTIFY
    publish(lb, "second")
    lb.client.send_media(MessageType.VIDEO, 100, b"\x17\x00def")
    server_events, _ = lb.pump()
    assert server_events == [MediaReceived(9, 100, 1, b"\x17\x00def")]


def test_close_stream_then_play_again() -> None:
    lb = connected()
    lb.client.play("first")
    lb.pump()
    lb.client.close_stream()
    server_events, _ = lb.pump()
    assert server_events == [StreamClosed()]
    lb.client.play("second")
    server_events, client_events = lb.pump()
    assert of(server_events, PlayRequested)[0].stream_name == "second"
    assert codes(client_events) == ["NetStream.Play.Reset", "NetStream.Play.Start"]


def test_timestamps_past_the_24bit_and_32bit_limits_both_ways() -> None:
    lb = connected()
    publish(lb)
    start = 0xFFFFFFFF - 200  # 49.7 days of publishing, minus 200 ms
    sent = frames(20, start=start, step_ms=20, size=300)
    lb.client.send_media(MessageType.VIDEO, 0xFFFFF0, b"\x17\x01x")  # around the 4.6-hour switch
    lb.client.send_media(MessageType.VIDEO, 0xFFFFFF, b"\x17\x01y")
    lb.client.send_media(MessageType.VIDEO, 0x1000010, b"\x17\x01z")
    for t, ts, payload in sent:
        lb.client.send_media(t, ts, payload)
    server_events, _ = lb.pump()
    got = [(m.msg_type, m.timestamp, m.payload) for m in of(server_events, MediaReceived)]
    assert [g[1] for g in got[:3]] == [0xFFFFF0, 0xFFFFFF, 0x1000010]
    assert got[3:] == sent  # unwrapped past 2^32, monotonic
    assert got[-1][1] > 1 << 32
    # And the other way, from a server to a player.
    lb2 = connected(seed=9)
    lb2.client.play("s")
    lb2.pump()
    for t, ts, payload in sent:
        lb2.server.send_media(t, ts, payload)
    _, client_events = lb2.pump()
    assert [(m.msg_type, m.timestamp, m.payload) for m in of(client_events, MediaReceived)] == sent
