"""Live-core behaviours through real sockets: slow players, empty messages, FLV header flags."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import aiohttp

from srs.format import flv
from srs.protocol.rtmp.client import ClientSession
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags
from support.server import DEFAULT_VHOST_BODY

from .conftest import start_app

AV = [t for t in flv_tags(clip("avatar.flv")) if t.tag_type != flv.TagType.SCRIPT]


def stalled_player(port: int, stream: str) -> tuple[socket.socket, ClientSession]:
    """An RTMP player that plays and then stops reading (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(5)
    s = ClientSession(random_bytes=os.urandom, epoch_ms=int(time.time() * 1000))
    sock.sendall(b"".join(s.data_to_send()))
    while not s.handshake_done:
        s.receive_data(sock.recv(65536))
    sock.sendall(b"".join(s.data_to_send()))
    s.connect(f"rtmp://127.0.0.1:{port}/live")
    s.play(stream)
    for _ in range(10):
        sock.sendall(b"".join(s.data_to_send()))
        s.receive_data(sock.recv(65536))
        if s.playing:
            break
    return sock, s


async def test_slow_player_drops_gops_others_unaffected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    body = DEFAULT_VHOST_BODY + " play { queue_length 2; }"
    r = await start_app(tmp_path, vhost_body=body)
    try:
        # a blocking client in a thread: the server on this loop must answer its handshake
        sock, _ = await asyncio.get_running_loop().run_in_executor(None, stalled_player, r.ports.rtmp, "slow")
        good = await RtmpClient.open(r.ports.rtmp)
        await good.play("slow")
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("slow")
        # 11 s of video (340 KB) pushed as fast as possible, many times over: far more than the socket
        # buffers of the stalled player hold, so it falls behind
        laps = 24
        for lap in range(laps):
            await pub.send_tags([flv.FlvTag(t.tag_type, t.timestamp + lap * 12000, t.body) for t in AV])
            await asyncio.sleep(0.05)
        src = r.ctx.registry.find("/live/slow")
        assert src is not None
        slow = [c for c in src.consumers if c.dropped_msgs > 0]
        assert slow, "the stalled player never dropped"
        assert slow[0].drops >= 1 and src.dropped_msgs >= slow[0].dropped_msgs
        # the ring holds at most queue_length of media for the laggard plus the current GOP
        span = src.ring[-1].timestamp - src.ring[0].timestamp
        assert span < 2000 + 12000, span
        # the good player got everything
        await good.wait_media(len(AV) * laps, timeout_s=10)
        assert len(good.media) == len(AV) * laps
        sock.close()
        await pub.close()
        await good.close()
    finally:
        await r.app.stop(graceful=False)


async def test_empty_messages_never_reach_players(server) -> None:  # type: ignore[no-untyped-def]
    player = await RtmpClient.open(server.ports.rtmp)
    await player.play("empty")
    pub = await RtmpClient.open(server.ports.rtmp)
    await pub.publish("empty")
    pub.send(flv.TagType.AUDIO, 0, b"")
    pub.send(flv.TagType.VIDEO, 0, b"")
    pub.session.send_data("onMetaData")  # a metadata message without the object
    pub._flush()
    await pub.send_tags(AV[:5])
    await player.wait_media(5)
    assert all(m.payload for m in player.media)
    assert len(player.media) == 5
    assert not [m for m in player.metadata if m.name == "onMetaData"]
    await pub.close()
    await player.close()


async def test_flv_drop_if_not_match(tmp_path) -> None:  # type: ignore[no-untyped-def]
    body = """
    http_remux {
        enabled on;
        mount [vhost]/[app]/[stream].flv;
        has_audio off;
        has_video on;
        guess_has_av off;
        drop_if_not_match on;
    }
    """
    r = await start_app(tmp_path, vhost_body=body)
    try:
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("dm")
        await pub.send_tags(AV[:60])
        async with aiohttp.ClientSession() as http:
            resp = await http.get(r.flv_url("dm"))
            data = await asyncio.wait_for(resp.content.read(200000), 5)
            await pub.send_tags([flv.FlvTag(t.tag_type, t.timestamp + 3000, t.body) for t in AV[:60]])
            await asyncio.sleep(0.5)
            data += await asyncio.wait_for(resp.content.read(400000), 5)
            resp.close()
        reader = flv.FlvReader()
        tags = reader.feed(data)
        assert reader.header is not None and reader.header.has_video and not reader.header.has_audio
        assert tags and all(t.tag_type != flv.TagType.AUDIO for t in tags)
        assert any(t.tag_type == flv.TagType.VIDEO for t in tags)
        await pub.close()
    finally:
        await r.app.stop(graceful=False)


async def test_flv_newcomer_right_after_a_keyframe_still_gets_audio(server) -> None:  # type: ignore[no-untyped-def]
    """The GOP cache holds only a keyframe when the player arrives: the FLV header must still
    declare audio (found by the benchmark: a few players per 1000 got video-only headers)."""
    tags = [t for t in flv_tags(clip("avatar.flv"))]
    meta_and_headers = tags[:3]
    frames = [t for t in tags[3:]]
    keys = [
        i for i, t in enumerate(frames) if t.tag_type == flv.TagType.VIDEO and flv.is_video_keyframe(t.body)
    ]
    second_gop = keys[1]
    pub = await RtmpClient.open(server.ports.rtmp)
    await pub.publish("kf")
    await pub.send_tags(meta_and_headers + frames[: second_gop + 1])  # ends with the 2nd GOP's keyframe
    await asyncio.sleep(0.2)
    async with aiohttp.ClientSession() as http:
        resp = await http.get(server.flv_url("kf"))
        await asyncio.sleep(0.2)
        await pub.send_tags(frames[second_gop + 1 : second_gop + 80])
        data = await asyncio.wait_for(resp.content.read(13), 5)
        rest = await asyncio.wait_for(resp.content.read(100000), 5)
        resp.close()
    header = flv.FlvReader()
    got = header.feed(data + rest)
    assert header.header is not None and header.header.has_audio and header.header.has_video
    assert any(t.tag_type == flv.TagType.AUDIO and not flv.is_audio_sequence_header(t.body) for t in got)
    await pub.close()
