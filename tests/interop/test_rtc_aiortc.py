"""WebRTC with aiortc as the browser: WHEP play of RTMP streams, WHIP publish played over RTMP and
HTTP-FLV, WHIP -> WHEP, SRS's legacy JSON API, WebRTC over TCP, and a WHEP player that arrives
before the publisher. One server for the module (every test uses its own stream names)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.media import clip
from support.rtc import legacy_play, legacy_publish, whep_play, whip_publish
from support.server import Ports, SrsProcess, render_conf
from support.tools import Clients, probe, publish_file

pytestmark = pytest.mark.interop

VHOST = """
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
    rtc { enabled on; rtmp_to_rtc on; rtc_to_rtmp on; }
"""
RTC_SERVER = (
    "rtc_server { enabled on; listen 0; candidate 127.0.0.1; protocol all; tcp { enabled on; listen 0; } }"
)


@pytest.fixture(scope="module")
def rtc_srs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SrsProcess]:
    ports = Ports()
    srv = SrsProcess(
        tmp_path_factory.mktemp("rtc"), render_conf(ports, vhost_body=VHOST, extra=RTC_SERVER), ports
    )
    srv.start()
    yield srv
    code = srv.stop()
    print(f"----- server log (exit {code}) -----\n{srv.log()[-20000:]}")


def _name() -> str:
    return f"s{uuid.uuid4().hex[:8]}"


def whep(srv: SrsProcess, stream: str, **q: str) -> str:
    extra = "".join(f"&{k}={v}" for k, v in q.items())
    return f"http://127.0.0.1:{srv.ports.api}/rtc/v1/whep/?app=live&stream={stream}{extra}"


def whip(srv: SrsProcess, stream: str, **q: str) -> str:
    extra = "".join(f"&{k}={v}" for k, v in q.items())
    return f"http://127.0.0.1:{srv.ports.api}/rtc/v1/whip/?app=live&stream={stream}{extra}"


def rtmp_publish(srv: SrsProcess, stream: str, media: Path, clients: Clients) -> None:
    clients.add(publish_file(f"rtmp://127.0.0.1:{srv.ports.rtmp}/live/{stream}", media, loops=-1))
    srv.wait_log(f"RTMP publish ip=127.0.0.1 url=/live/{stream}", 10)


def test_whep_plays_an_rtmp_stream(rtc_srs: SrsProcess, clients: Clients) -> None:
    stream = _name()
    rtmp_publish(rtc_srs, stream, clip("bbb.flv"), clients)
    got = asyncio.run(whep_play(whep(rtc_srs, stream), 15, until_frames=75, until_audio_frames=100))
    assert got.connected, got.states
    assert got.codecs == {"audio": "audio/opus", "video": "video/H264"}
    assert got.video_frames >= 75, got
    assert set(got.video_sizes) == {(640, 360)}
    assert got.audio_frames >= 100 and got.audio_rate == 48000 and got.audio_nonsilent
    assert got.delete_status == 200
    assert not got.errors


def test_whep_player_waiting_for_the_publisher_gets_media(rtc_srs: SrsProcess, clients: Clients) -> None:
    stream = _name()

    async def run() -> object:
        play = asyncio.ensure_future(
            whep_play(whep(rtc_srs, stream), 20, until_frames=50, until_audio_frames=50)
        )
        await asyncio.sleep(2)
        assert not play.done()
        rtmp_publish(rtc_srs, stream, clip("bbb.flv"), clients)
        return await play

    got = asyncio.run(run())
    assert got.connected and got.video_frames >= 50 and got.audio_frames >= 50, got  # type: ignore[attr-defined]
    assert set(got.video_sizes) == {(640, 360)}  # type: ignore[attr-defined]


def test_whip_publish_plays_over_rtmp_and_http_flv(rtc_srs: SrsProcess) -> None:
    stream = _name()

    async def run() -> tuple[object, object, object]:
        pub = asyncio.ensure_future(whip_publish(whip(rtc_srs, stream), clip("bbb.flv"), 8))
        await asyncio.to_thread(rtc_srs.wait_log, f"RTC publish ip=127.0.0.1 url=/live/{stream}", 10)
        await asyncio.sleep(2)
        rtmp = asyncio.to_thread(
            probe, f"rtmp://127.0.0.1:{rtc_srs.ports.rtmp}/live/{stream}", packets=150, rw_timeout_s=5
        )
        flv = asyncio.to_thread(
            probe, f"http://127.0.0.1:{rtc_srs.ports.http}/live/{stream}.flv", packets=150
        )
        a, b = await asyncio.gather(rtmp, flv)
        return await pub, a, b

    pub, over_rtmp, over_flv = asyncio.run(run())
    assert pub.connected and pub.delete_status == 200, pub  # type: ignore[attr-defined]
    for got in (over_rtmp, over_flv):
        v, a = got.video, got.audio  # type: ignore[attr-defined]
        assert v is not None and v.codec_name == "h264" and (v.width, v.height) == (640, 360), got
        assert a is not None and a.codec_name == "aac" and a.sample_rate == 48000, got
        assert v.frames >= 40 and a.frames >= 40, got
        assert v.key[0], "video starts with a keyframe"
        assert abs(v.dts[0] - a.dts[0]) < 0.2, "both audio and video from the first tags"


def test_whip_to_whep(rtc_srs: SrsProcess) -> None:
    stream = _name()

    async def run() -> tuple[object, object]:
        pub = asyncio.ensure_future(whip_publish(whip(rtc_srs, stream), clip("bbb.flv"), 10))
        await asyncio.sleep(2)
        got = await whep_play(whep(rtc_srs, stream), 8, until_frames=50, until_audio_frames=50)
        return got, await pub

    got, pub = asyncio.run(run())
    assert pub.connected  # type: ignore[attr-defined]
    assert got.connected and got.video_frames >= 50 and got.audio_frames >= 50, got  # type: ignore[attr-defined]
    assert set(got.video_sizes) == {(640, 360)} and got.audio_nonsilent  # type: ignore[attr-defined]


def test_legacy_json_api_publish_and_play(rtc_srs: SrsProcess) -> None:
    stream = _name()
    api = f"http://127.0.0.1:{rtc_srs.ports.api}/rtc/v1"
    url = f"webrtc://127.0.0.1/live/{stream}"

    async def run() -> tuple[object, object]:
        pub = asyncio.ensure_future(legacy_publish(f"{api}/publish/", url, clip("bbb.flv"), 8))
        await asyncio.sleep(2)
        got = await legacy_play(f"{api}/play/", url, 8, until_frames=40, until_audio_frames=40)
        return got, await pub

    got, pub = asyncio.run(run())
    assert pub.connected and pub.location and ":" in pub.location  # type: ignore[attr-defined]
    assert got.connected and got.video_frames >= 40 and got.audio_frames >= 40, got  # type: ignore[attr-defined]


def test_whep_over_tcp(rtc_srs: SrsProcess, clients: Clients) -> None:
    stream = _name()
    rtmp_publish(rtc_srs, stream, clip("bbb.flv"), clients)
    got = asyncio.run(whep_play(whep(rtc_srs, stream), 15, until_frames=50, until_audio_frames=50, tcp=True))
    assert got.connected and got.video_frames >= 50 and got.audio_frames >= 50, got


def test_vp8_is_relayed_whip_to_whep(rtc_srs: SrsProcess) -> None:
    """VP8 is not bridged to RTMP, but a WebRTC publisher's VP8 reaches WebRTC players as it came."""
    stream = _name()

    async def run() -> tuple[object, object]:
        pub = asyncio.ensure_future(
            whip_publish(whip(rtc_srs, stream, codec="vp8"), clip("bbb.flv"), 10, video_codec="VP8")
        )
        await asyncio.sleep(2)
        got = await whep_play(
            whep(rtc_srs, stream, codec="vp8"), 8, video_codec="VP8", until_frames=40, until_audio_frames=40
        )
        return got, await pub

    got, pub = asyncio.run(run())
    assert pub.connected and pub.codecs["video"] == "video/VP8", pub  # type: ignore[attr-defined]
    assert got.codecs["video"] == "video/VP8", got  # type: ignore[attr-defined]
    assert got.video_frames >= 40 and set(got.video_sizes) == {(640, 360)}, got  # type: ignore[attr-defined]
