"""RTSP publish in-process (ANNOUNCE, SETUP mode=record, RECORD, interleaved RTP made by RtspWire
from a clip), hooks of RTSP players and publishers, refusals (401 from hooks, 406 busy), sender
reports to a TCP player, and the UDP session timeout."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from srs.format import flv
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.protocol.rtc import rtcp
from srs.protocol.rtsp.message import RtspMessage
from srs.protocol.rtsp.sdp import audio_track, describe, video_track
from srs.remux.rtc_out import split_frames
from srs.remux.rtsp_out import RtspWire
from srs.server import rtsp as rtsp_server
from support.media import clip
from support.net import free_port
from support.rtmp_client import RtmpClient, flv_tags

from .conftest import start_app
from .test_hooks_receiver import Answer, Receiver, hooks_block
from .test_rtsp_session import Rtsp

TAGS = [t for t in flv_tags(clip("bbb.flv")) if t.tag_type != flv.TagType.SCRIPT][:300]
VHOST = "rtsp { enabled on; rtmp_to_rtsp on; }"


def _announce_sdp(url: str) -> str:
    a = audio_track(next(t.body for t in TAGS if t.tag_type == 8 and t.body[1] == 0))
    v = video_track(next(t.body for t in TAGS if t.tag_type == 9 and t.body[1] == 0))
    assert a is not None and v is not None
    return describe(url, [replace(a, control="trackID=0"), replace(v, control="trackID=1")])


def _interleaved(tags: list[flv.FlvTag]) -> bytes:
    wire = RtspWire("h264")
    out = bytearray()
    for t in tags:
        kind = VIDEO if t.tag_type == 9 else AUDIO
        for pkt in split_frames(wire.encode(MediaMessage(kind, t.timestamp, t.body))):
            ch = 2 if pkt[1] & 0x7F == 96 else 0
            out += bytes((0x24, ch, len(pkt) >> 8, len(pkt) & 0xFF)) + pkt
    return bytes(out)


async def _publish(c: Rtsp, url: str) -> RtspMessage:
    """ANNOUNCE the clip's tracks; its answer (read along with an OPTIONS after it)."""
    c.cseq += 1
    cseq = c.cseq
    body = _announce_sdp(url).encode()
    c.writer.write(
        f"ANNOUNCE {url} RTSP/1.0\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await c.ask("OPTIONS", url)
    (answer,) = [m for m in c.pending if m.cseq == cseq]
    c.pending.remove(answer)
    return answer


@pytest.fixture
async def receiver() -> Receiver:
    r = await Receiver().start()
    yield r  # type: ignore[misc]
    await r.stop()


async def test_publish_play_hooks_and_refusals(tmp_path: Path, receiver: Receiver) -> None:
    port = free_port()
    hooks = hooks_block(**{k: receiver.url() for k in ("on_publish", "on_unpublish", "on_play", "on_stop")})
    r = await start_app(
        tmp_path, vhost_body=VHOST + hooks, extra=f"rtsp_server {{ enabled on; listen {port}; }}"
    )
    r.app.hooks.timeout_s = 3.0
    try:
        url = f"rtsp://127.0.0.1:{port}/live/p"
        pub = await Rtsp.open(port)
        ann = await _publish(pub, url)
        assert ann.status == 200 and ann.session
        await receiver.wait("on_publish")
        a = await pub.ask(
            "SETUP", url + "/trackID=0", Transport="RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"
        )
        assert a.status == 200 and "mode=record" in a.headers["transport"]
        v = await pub.ask(
            "SETUP", url + "/trackID=1", Transport="RTP/AVP/TCP;unicast;interleaved=2-3;mode=record"
        )
        assert v.status == 200
        assert (await pub.ask("RECORD", url, Session=ann.session)).status == 200
        pub.writer.write(_interleaved(TAGS[:150]))
        # an RTMP player gets the RTSP publisher's stream
        player = await RtmpClient.open(r.ports.rtmp)
        await player.play("p")
        pub.writer.write(_interleaved(TAGS[150:]))
        got = await player.wait_media(20)
        assert any(m.msg_type == 9 for m in got) and any(m.msg_type == 8 for m in got)
        # a second publisher is refused
        other = await Rtsp.open(port)
        assert (await _publish(other, url)).status == 200
        await other.ask("SETUP", url + "/trackID=1", Transport="RTP/AVP/TCP;interleaved=0-1;mode=record")
        assert (await other.ask("RECORD", url)).status == 406
        other.close()
        # an RTSP player of the RTSP publish: hooks on_play and on_stop, sender reports
        c = await Rtsp.open(port)
        d = await c.ask("DESCRIBE", url)
        assert d.status == 200, d
        await c.ask("SETUP", url + "/trackID=1", Transport="RTP/AVP/TCP;interleaved=0-1", Session=d.session)
        await c.ask("PLAY", url, Session=d.session)
        await receiver.wait("on_play")
        pub.writer.write(_interleaved(TAGS[:100]))
        deadline = asyncio.get_running_loop().time() + 5
        while not any(f.channel == 1 for f in c.frames):
            assert asyncio.get_running_loop().time() < deadline, "no sender report"
            await c.read_frames(len(c.frames) + 1)
        sr = next(f for f in c.frames if f.channel == 1)
        assert isinstance(rtcp.parse_compound(sr.data)[0], rtcp.RtcpSr)
        c.close()
        await receiver.wait("on_stop")
        pub.close()
        await receiver.wait("on_unpublish")
        await player.close()
        # refused by the hooks: 401
        receiver.answer = lambda call: Answer(status=403)
        c = await Rtsp.open(port)
        assert (await c.ask("DESCRIBE", url + "2")).status == 401
        c.close()
        c = await Rtsp.open(port)
        assert (await _publish(c, url + "3")).status == 401
        c.close()
    finally:
        await r.app.stop(graceful=False)


async def test_udp_session_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rtsp_server, "SESSION_TIMEOUT_S", 0.6)
    port = free_port()
    r = await start_app(tmp_path, vhost_body=VHOST, extra=f"rtsp_server {{ enabled on; listen {port}; }}")
    try:
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("u")
        await pub.send_tags(TAGS[:60])
        url = f"rtsp://127.0.0.1:{port}/live/u"
        c = await Rtsp.open(port)
        d = await c.ask("DESCRIBE", url)
        lo = free_port()
        s = await c.ask(
            "SETUP",
            url + "/trackID=1",
            Transport=f"RTP/AVP;unicast;client_port={lo}-{lo + 1}",
            Session=d.session,
        )
        assert s.status == 200
        assert (await c.ask("PLAY", url, Session=d.session)).status == 200
        assert await c.closed()  # no request, no RTCP: closed after the session timeout
        c.close()
        await pub.close()
    finally:
        await r.app.stop(graceful=False)
