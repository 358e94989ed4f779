"""HEVC over WebRTC both ways, and a raw (non-aiortc) WHIP publisher, with tests/support/rtc_raw.py.

* RTMP HEVC (PyAV publishes hevc.flv as Enhanced RTMP) -> a raw WHEP player offering ``H265/90000``
  with ``codec=hevc``: its RTP depacketized with ``payload_h265.assembler()`` decodes with PyAV's
  hevc decoder at the clip's size, and its Opus (the AAC transcoded) decodes with PyAV.
* A raw WHIP publisher (H.265 + Opus, ``codec=hevc``) -> ``rtc_to_rtmp`` -> PyAV plays RTMP and
  HTTP-FLV: hevc at the clip's size + aac, both from the first tags.
* The same publisher with H.264 (bbb.flv) -> ffprobe over RTMP: h264 + aac.

One server process for the module; every test uses its own stream name.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from support.media import clip
from support.pyav import PyavPublisher, pyav_probe
from support.rtc_raw import (
    PublishStats,
    RawPeer,
    decode_received,
    load_flv_media,
    whep_play_raw,
    whip_publish_raw,
)
from support.server import Ports, SrsProcess, render_conf
from support.tools import ProbeResult, probe

pytestmark = pytest.mark.interop

VHOST = """
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
    rtc { enabled on; rtmp_to_rtc on; rtc_to_rtmp on; }
"""
RTC_SERVER = "rtc_server { enabled on; listen 0; candidate 127.0.0.1; }"
PLAY_S = 6.0


@pytest.fixture(scope="module")
def rtc_srs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SrsProcess]:
    ports = Ports()
    srv = SrsProcess(
        tmp_path_factory.mktemp("rtc-hevc"), render_conf(ports, vhost_body=VHOST, extra=RTC_SERVER), ports
    )
    srv.start()
    yield srv
    code = srv.stop()
    print(f"----- server log (exit {code}) -----\n{srv.log()[-20000:]}")


def _name() -> str:
    return f"s{uuid.uuid4().hex[:8]}"


def _api(srv: SrsProcess, kind: str, stream: str, codec: str | None = None) -> str:
    q = f"&codec={codec}" if codec else ""
    return f"http://127.0.0.1:{srv.ports.api}/rtc/v1/{kind}/?app=live&stream={stream}{q}"


def test_whep_plays_rtmp_hevc_as_h265(rtc_srs: SrsProcess) -> None:
    stream = _name()
    pub = PyavPublisher(f"rtmp://127.0.0.1:{rtc_srs.ports.rtmp}/live/{stream}", clip("hevc.flv"))
    pub.start()
    try:
        rtc_srs.wait_log(f"RTMP publish ip=127.0.0.1 url=/live/{stream}", 10)
        peer = asyncio.run(whep_play_raw(_api(rtc_srs, "whep", stream, "hevc"), PLAY_S, codec="h265"))
    finally:
        pub.stop_event.set()
        pub.join(10)
    assert peer.result.ok and not peer.result.srtp_errors, peer.result.summary()
    got = decode_received(peer.received, codec="h265")
    print(got)
    assert got.video_sizes == {(640, 360)}, got
    assert got.keyframes >= 1 and not got.video_errors, got
    # 25 fps for PLAY_S seconds, plus at most a GOP (2 s) of cache burst at the start.
    assert 25 * (PLAY_S - 2) <= got.video_frames <= 25 * (PLAY_S + 3), got
    assert got.audio_rates == {48000} and not got.audio_errors, got
    assert got.audio_frames >= 50 * (PLAY_S - 2) and got.audio_peak > 0, got


def test_whip_hevc_publish_plays_over_rtmp_and_http_flv(rtc_srs: SrsProcess) -> None:
    stream = _name()
    media = load_flv_media(clip("hevc.flv"))
    assert media.codec == "h265"

    async def run() -> tuple[tuple[RawPeer, PublishStats], ProbeResult, ProbeResult]:
        pub = asyncio.ensure_future(whip_publish_raw(_api(rtc_srs, "whip", stream, "hevc"), media, 10))
        await asyncio.to_thread(rtc_srs.wait_log, f"RTC publish ip=127.0.0.1 url=/live/{stream}", 10)
        await asyncio.sleep(1)
        rtmp = asyncio.to_thread(
            pyav_probe,
            f"rtmp://127.0.0.1:{rtc_srs.ports.rtmp}/live/{stream}",
            max_packets=150,
            max_seconds=15,
        )
        flv = asyncio.to_thread(
            pyav_probe,
            f"http://127.0.0.1:{rtc_srs.ports.http}/live/{stream}.flv",
            max_packets=150,
            max_seconds=15,
        )
        a, b = await asyncio.gather(rtmp, flv)
        return await pub, a, b

    (peer, stats), over_rtmp, over_flv = asyncio.run(run())
    assert peer.result.ok and stats.video_frames > 100 and stats.sender_reports >= 5, (peer.result, stats)
    for got in (over_rtmp, over_flv):
        v, a = got.video, got.audio
        assert v is not None and v.codec_name == "hevc" and (v.width, v.height) == (640, 360), got
        assert a is not None and a.codec_name == "aac" and a.sample_rate == 48000, got
        assert v.frames >= 40 and a.frames >= 40, got
        assert v.key[0], "video starts with a keyframe"
        assert abs(v.dts[0] - a.dts[0]) < 0.2, "both audio and video from the first tags"


def test_whip_h264_raw_publish_plays_over_rtmp(rtc_srs: SrsProcess) -> None:
    stream = _name()
    media = load_flv_media(clip("bbb.flv"))
    assert media.codec == "h264"

    async def run() -> tuple[tuple[RawPeer, PublishStats], ProbeResult]:
        pub = asyncio.ensure_future(whip_publish_raw(_api(rtc_srs, "whip", stream), media, 8))
        await asyncio.to_thread(rtc_srs.wait_log, f"RTC publish ip=127.0.0.1 url=/live/{stream}", 10)
        await asyncio.sleep(1)
        got = await asyncio.to_thread(
            probe, f"rtmp://127.0.0.1:{rtc_srs.ports.rtmp}/live/{stream}", packets=150, rw_timeout_s=5
        )
        return await pub, got

    (peer, _stats), got = asyncio.run(run())
    assert peer.result.ok
    v, a = got.video, got.audio
    assert v is not None and v.codec_name == "h264" and (v.width, v.height) == (640, 360), got
    assert a is not None and a.codec_name == "aac" and a.sample_rate == 48000, got
    assert v.frames >= 40 and a.frames >= 40 and v.key[0], got
    assert abs(v.dts[0] - a.dts[0]) < 0.2, got
