"""RTMP publish/play through the real server (in-process), with our own client."""

from __future__ import annotations

import asyncio
import itertools

import aiohttp

from srs import SIGNATURE, VERSION
from srs.format import amf0, flv
from srs.protocol.rtmp.events import ClientType
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags

AVATAR = flv_tags(clip("avatar.flv"))
AV_TAGS = [t for t in AVATAR if t.tag_type != flv.TagType.SCRIPT]


def first_gop(tags: list[flv.FlvTag]) -> list[flv.FlvTag]:
    """Sequence headers plus the tags up to (not including) the second keyframe."""
    out, keys = [], 0
    for t in tags:
        if (
            t.tag_type == flv.TagType.VIDEO
            and flv.is_video_keyframe(t.body)
            and not flv.is_video_sequence_header(t.body)
        ):
            keys += 1
            if keys == 2:
                break
        out.append(t)
    return out


async def test_publish_then_play_gets_metadata_headers_and_gop(server) -> None:  # type: ignore[no-untyped-def]
    pub = await RtmpClient.open(server.ports.rtmp)
    await pub.publish("s1")
    await pub.send_tags(first_gop(AVATAR))
    player = await RtmpClient.open(server.ports.rtmp)
    await player.play("s1")
    media = await player.wait_media(3, timeout_s=5)
    # metadata rewritten as SRS does: duration removed, server/server_version added
    names = [m.name for m in player.metadata]
    assert names[0] == "|RtmpSampleAccess"  # sent by start_play, before any media
    md = next(m for m in player.metadata if m.name == "onMetaData")
    props = md.values[0]
    assert props["server"] == SIGNATURE and props["server_version"] == VERSION
    assert "duration" not in props
    assert props["width"] == 768.0
    # then audio sequence header, video sequence header, then a keyframe (GOP cache)
    assert flv.is_audio_sequence_header(media[0].payload)
    assert flv.is_video_sequence_header(media[1].payload)
    assert flv.is_video_keyframe(media[2].payload)
    await pub.close()
    await player.close()


async def test_player_receives_every_message_in_order(server) -> None:  # type: ignore[no-untyped-def]
    player = await RtmpClient.open(server.ports.rtmp)
    await player.play("s2")
    pub = await RtmpClient.open(server.ports.rtmp)
    await pub.publish("s2")
    await pub.send_tags(AV_TAGS[:300])
    await player.wait_media(300, timeout_s=10)
    got = [(m.msg_type, m.payload) for m in player.media]
    assert got == [(int(t.tag_type), t.body) for t in AV_TAGS[:300]]
    # full jitter: per-kind timestamps keep their spacing
    vts = [m.timestamp for m in player.media if m.msg_type == 9]
    src_vts = [t.timestamp for t in AV_TAGS[:300] if t.tag_type == 9]
    assert [b - a for a, b in itertools.pairwise(vts)][5:] == [b - a for a, b in itertools.pairwise(src_vts)][
        5:
    ]
    await pub.close()
    await player.close()


async def test_second_publisher_refused_first_keeps_going(server) -> None:  # type: ignore[no-untyped-def]
    pub = await RtmpClient.open(server.ports.rtmp)
    await pub.publish("busy")
    await pub.send_tags(AV_TAGS[:20])
    other = await RtmpClient.open(server.ports.rtmp)
    other.session.publish("busy", client_type=ClientType.FMLE_PUBLISH)
    other._flush()
    info = await other.wait_status("NetStream.Publish.BadName")
    assert "busy" in str(info["description"]) and "1028" in str(info["description"])
    await asyncio.wait_for(other.closed.wait(), 5)
    player = await RtmpClient.open(server.ports.rtmp)
    await player.play("busy")
    await pub.send_tags(AV_TAGS[20:80])
    media = await player.wait_media(10, timeout_s=5)
    assert len(media) >= 10
    await pub.close()
    await player.close()


async def test_republish_on_same_connection_and_player_continues(server) -> None:  # type: ignore[no-untyped-def]
    player = await RtmpClient.open(server.ports.rtmp)
    await player.play("re")
    pub = await RtmpClient.open(server.ports.rtmp)
    await pub.publish("re")
    await pub.send_tags(AV_TAGS[:50])
    await player.wait_media(50)
    pub.session.unpublish("re")
    pub._flush()
    await pub.wait_status("NetStream.Unpublish.Success")
    # the same connection publishes again (SRS keeps it waiting for a republish)
    pub.session.publish("re")
    pub._flush()
    await pub.wait_status("NetStream.Publish.Start")
    await pub.send_tags(AV_TAGS[:50])
    await player.wait_media(100)
    assert len(player.media) == 100
    ts = [m.timestamp for m in player.media if m.msg_type == 9]
    assert ts[-1] > ts[len(ts) // 2 - 1], "timeline went back after republish"
    await pub.close()
    await player.close()


async def test_flash_and_haivision_publish(server) -> None:  # type: ignore[no-untyped-def]
    for kind, name in ((ClientType.FLASH_PUBLISH, "f"), (ClientType.HAIVISION_PUBLISH, "h")):
        pub = await RtmpClient.open(server.ports.rtmp)
        await pub.publish(name, client_type=kind)
        conn = next(c for c in server.ctx.connections.values() if c.kind == kind.value)
        assert conn is not None
        await pub.close()


async def test_http_flv_player_gets_flv_and_ends_when_publisher_leaves(server) -> None:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http:
        resp = await http.get(server.flv_url("hf"))
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "video/x-flv"
        assert resp.headers["Server"] == SIGNATURE
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        pub = await RtmpClient.open(server.ports.rtmp)
        await pub.publish("hf")
        await pub.send_tags(first_gop(AVATAR))
        await asyncio.sleep(0.3)
        await pub.close()  # the publisher leaves: the response must end cleanly
        body = await asyncio.wait_for(resp.read(), 10)
    header, tags = flv.parse_file(body)
    assert header.has_audio and header.has_video
    # the player waited for the publisher, so it got everything in publish order
    assert tags[0].tag_type == flv.TagType.SCRIPT
    assert [t.body for t in tags[1:]] == [
        t.body for t in first_gop(AVATAR) if t.tag_type != flv.TagType.SCRIPT
    ]
    md = amf0.decode_all(tags[0].body)
    assert md[0] == "onMetaData" and md[1]["server"] == SIGNATURE


async def test_http_flv_video_only_stream_declares_no_audio(server) -> None:  # type: ignore[no-untyped-def]
    vtags = [t for t in first_gop(AVATAR) if t.tag_type == flv.TagType.VIDEO]
    pub = await RtmpClient.open(server.ports.rtmp)
    await pub.publish("vo")
    await pub.send_tags(vtags)
    async with aiohttp.ClientSession() as http:
        resp = await http.get(server.flv_url("vo"))
        chunk = await asyncio.wait_for(resp.content.readexactly(13), 5)
        assert chunk[:3] == b"FLV" and chunk[4] == 0x01  # video only
        resp.close()
    await pub.close()


async def test_idle_sources_are_reaped(server) -> None:  # type: ignore[no-untyped-def]
    for i in range(20):
        pub = await RtmpClient.open(server.ports.rtmp)
        await pub.publish(f"r{i}")
        await pub.send_tags(AV_TAGS[:10])
        player = await RtmpClient.open(server.ports.rtmp)
        await player.play(f"r{i}")
        await player.close()
        await pub.close()
    for _ in range(50):
        if len(server.ctx.registry) == 0 and not server.ctx.connections:
            break
        await asyncio.sleep(0.05)
    assert len(server.ctx.registry) == 0
    assert server.ctx.registry.created == server.ctx.registry.reaped == 20
    assert not server.ctx.connections


async def test_whole_command_sequence_in_one_write(server) -> None:  # type: ignore[no-untyped-def]
    """A client that does not wait for replies: the held commands are answered after connect."""
    import os
    import time

    from srs.protocol.rtmp.client import ClientSession
    from srs.protocol.rtmp.events import StatusReceived

    reader, writer = await asyncio.open_connection("127.0.0.1", server.ports.rtmp)
    s = ClientSession(random_bytes=os.urandom, epoch_ms=int(time.time() * 1000))
    writer.writelines(s.data_to_send())
    while not s.handshake_done:
        s.receive_data(await asyncio.wait_for(reader.read(65536), 5))
    writer.writelines(s.data_to_send())
    s.connect(f"rtmp://127.0.0.1:{server.ports.rtmp}/live")
    s.send_command("releaseStream", 2.0, None, "burst")
    s.send_command("FCPublish", 3.0, None, "burst")
    s.send_command("createStream", 4.0, None)
    s.send_command("publish", 5.0, None, "burst", "live", stream_id=1, csid=5)
    writer.write(b"".join(s.data_to_send()))  # everything in one TCP write
    codes = []
    deadline = time.monotonic() + 5
    while "NetStream.Publish.Start" not in codes and time.monotonic() < deadline:
        data = await asyncio.wait_for(reader.read(65536), 5)
        assert data
        codes += [e.info.get("code") for e in s.receive_data(data) if isinstance(e, StatusReceived)]
    assert "NetStream.Publish.Start" in codes
    assert server.ctx.registry.find("/live/burst") is not None
    writer.close()
