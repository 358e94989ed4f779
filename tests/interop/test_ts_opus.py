"""Opus in MPEG-TS with real clients: ffmpeg (libx264 + libopus, ``-f mpegts``) publishes over SRT and
to the ``mpegts_over_udp`` caster; ffprobe plays RTMP and HTTP-FLV and gets H.264 + AAC (the Opus
transcoded once per stream), every frame of the publish, both kinds from the start; an audio-only
Opus TS publishes an AAC-only stream.

One server for the module (SRT on an ephemeral port, the caster on a free UDP port); the players
are there before the publish and end when the stream stops (``rw_timeout``).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.net import free_ports
from support.server import DEFAULT_VHOST_BODY, Ports, SrsProcess, render_conf
from support.tools import Clients, ProbeResult, probe

pytestmark = pytest.mark.interop

SECONDS = 3  # of testsrc2 + sine, encoded and sent in real time
CASTER_STREAM = "udp-opus"
VHOST = (
    DEFAULT_VHOST_BODY + "\n    srt { enabled on; srt_to_rtmp on; }\n    publish { normal_timeout 2000; }\n"
)


@pytest.fixture(scope="module")
def opus_srs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SrsProcess]:
    ports = Ports()
    (udp,) = free_ports(1)
    extra = (
        "srt_server { enabled on; listen 0; peer_idle_timeout 3000; }\n"
        f"stream_caster {{ enabled on; caster mpegts_over_udp; listen {udp};"
        f" output rtmp://127.0.0.1/live/{CASTER_STREAM}; }}\n"
    )
    srv = SrsProcess(
        tmp_path_factory.mktemp("tsopus"), render_conf(ports, vhost_body=VHOST, extra=extra), ports
    )
    srv.start()
    m = re.search(r"SRT listen=udp://[^:]+:(\d+)", srv.wait_log("SRT listen=udp://"))
    assert m is not None
    srv.srt_port = int(m.group(1))  # type: ignore[attr-defined]
    srv.udp_port = udp  # type: ignore[attr-defined]
    srv.wait_log(f"caster mpegts_over_udp listen={udp}")
    yield srv
    code = srv.stop()
    print(f"----- server log (exit {code}) -----\n{srv.log()[-20000:]}")


def ffmpeg_ts(url: str, *, video: bool) -> subprocess.Popen[bytes]:
    """ffmpeg encodes ``SECONDS`` of testsrc2 (H.264, GOP 25, B-frames) + a sine (libopus) live into TS."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-re"]
    if video:
        cmd += ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"]
    cmd += ["-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", str(SECONDS)]
    if video:
        cmd += ["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p"]
    cmd += ["-c:a", "libopus", "-f", "mpegts", url]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _players(srv: SrsProcess, stream: str, bg: ThreadPoolExecutor) -> list[tuple[str, object]]:
    urls = {"RTMP": srv.rtmp_url(stream), "HTTP-FLV": srv.flv_url(stream)}
    futures = [(what, bg.submit(probe, url, rw_timeout_s=4, timeout_s=60)) for what, url in urls.items()]
    srv.wait_players(stream, 2)
    return futures  # type: ignore[return-value]


def _publish(pub: subprocess.Popen[bytes]) -> None:
    _, err = pub.communicate(timeout=60)
    assert pub.returncode == 0, err.decode(errors="replace")


def _check_audio(got: ProbeResult, what: str) -> None:
    a = got.audio
    assert a is not None, f"{what}: no audio ({got.streams})"
    assert (a.codec_name, a.sample_rate, a.channels) == ("aac", 48000, 1), (what, a)
    # SECONDS of 48 kHz in 1024-sample AAC frames; the start (the keyframe) and the end cut a few.
    expected = SECONDS * 48000 / 1024
    assert expected - 8 <= a.frames <= expected + 3, (what, a.frames)
    assert a.monotonic(), what


def test_srt_h264_and_opus_play_as_h264_and_aac(
    opus_srs: SrsProcess, clients: Clients, bg: ThreadPoolExecutor
) -> None:
    stream = "srt-opus"
    players = _players(opus_srs, stream, bg)
    port = opus_srs.srt_port  # type: ignore[attr-defined]
    # linger: libsrt's live mode drops what is unsent at close, here x264's lookahead flushed at the end.
    _publish(
        clients.add(
            ffmpeg_ts(f"srt://127.0.0.1:{port}?streamid=#!::r=live/{stream},m=publish&linger=5", video=True)
        )
    )
    for what, fut in players:
        got: ProbeResult = fut.result()  # type: ignore[attr-defined]
        kinds = {s.codec_type: s.codec_name for s in got.streams}
        assert kinds == {"video": "h264", "audio": "aac"}, (what, kinds)
        v = got.video
        assert v is not None and v.frames == SECONDS * 25 and v.key[0] and v.keyframes == SECONDS, (what, v)
        assert v.monotonic(), what
        _check_audio(got, what)
        assert got.audio is not None and abs(got.audio.dts[0] - v.dts[0]) < 0.1, (what, got.audio.dts[:3])
    opus_srs.wait_log(f"SRT unpublish url=/live/{stream}", 10)


def test_udp_caster_audio_only_opus_plays_as_aac(
    opus_srs: SrsProcess, clients: Clients, bg: ThreadPoolExecutor
) -> None:
    players = _players(opus_srs, CASTER_STREAM, bg)
    udp = opus_srs.udp_port  # type: ignore[attr-defined]
    _publish(clients.add(ffmpeg_ts(f"udp://127.0.0.1:{udp}?pkt_size=1316", video=False)))
    for what, fut in players:
        got: ProbeResult = fut.result()  # type: ignore[attr-defined]
        assert [s.codec_type for s in got.streams] == ["audio"], (what, got.streams)
        _check_audio(got, what)
