"""Config a user sets and what real clients then see: IPv6 and several ``listen`` ports,
``gop_cache`` for players that join mid-stream, ``time_jitter`` on the timestamps."""

from __future__ import annotations

import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.checks import EXACT_ISH, assert_plays_like
from support.flv import AUDIO, VIDEO, capture_http_flv, shift_timestamps
from support.media import lavfi_clip
from support.net import free_port
from support.server import DEFAULT_VHOST_BODY, Ports, SrsProcess, StartServer
from support.tools import Clients, ffmpeg_publish, probe, publish_file, publish_raw_flv, record

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


def _dual_stack_port() -> int:
    """A port free on both 127.0.0.1 and ::1 (the server listens on both)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
                s.bind(("::1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free on both IPv4 and IPv6 loopback")


def test_ipv6_listen(
    start_srs: StartServer, stream_name: str, clients: Clients, bg: ThreadPoolExecutor
) -> None:
    """``listen 1935 [::]:1935;``: publish over IPv6 (``rtmp://[::1]:port``), play over IPv6
    and IPv4 at once; both players get the whole stream."""
    ports = Ports()
    ports.rtmp = _dual_stack_port()
    srs = start_srs(ports=ports, listen=f"{ports.rtmp} [::]:{ports.rtmp}")
    path = lavfi_clip(3)
    src = probe(path)
    v6 = bg.submit(probe, srs.rtmp_url(stream_name, host="::1"), packets=src.packets, rw_timeout_s=5)
    v4 = bg.submit(probe, srs.rtmp_url(stream_name), packets=src.packets, rw_timeout_s=5)
    srs.wait_players(stream_name, 2)
    assert "ip=::1 " in srs.log(), "the IPv6 player was not seen as coming from ::1"

    pub = clients.add(publish_file(srs.rtmp_url(stream_name, host="::1"), path))
    _, err = pub.communicate(timeout=30)
    assert pub.returncode == 0, f"IPv6 publisher failed: {err.decode(errors='replace')}"
    assert_plays_like(v6.result(timeout=15), src, what="ffprobe RTMP over IPv6", tol=EXACT_ISH)
    assert_plays_like(v4.result(timeout=15), src, what="ffprobe RTMP over IPv4", tol=EXACT_ISH)


def test_several_listen_ports(
    start_srs: StartServer, stream_name: str, clients: Clients, bg: ThreadPoolExecutor
) -> None:
    """``listen p1 p2;``: one stream, published on one port, played on both."""
    ports = Ports()
    second = free_port()
    srs = start_srs(ports=ports, listen=f"{ports.rtmp} {second}")
    path = lavfi_clip(3)
    src = probe(path)
    on_first = bg.submit(probe, srs.rtmp_url(stream_name), packets=src.packets, rw_timeout_s=5)
    on_second = bg.submit(probe, srs.rtmp_url(stream_name, port=second), packets=src.packets, rw_timeout_s=5)
    srs.wait_players(stream_name, 2)

    pub = clients.add(publish_file(srs.rtmp_url(stream_name, port=second), path))
    _, err = pub.communicate(timeout=30)
    assert pub.returncode == 0, f"publisher on the second port failed: {err.decode(errors='replace')}"
    assert_plays_like(on_first.result(timeout=15), src, what=f"player on port {ports.rtmp}", tol=EXACT_ISH)
    assert_plays_like(on_second.result(timeout=15), src, what=f"player on port {second}", tol=EXACT_ISH)


def _vhost(play: str) -> str:
    return DEFAULT_VHOST_BODY + f"\n    play {{\n        {play}\n    }}\n"


# A 6 s clip with one keyframe every 4 s: a player joining at ~1.5 s is mid-GOP.
GOP_CLIP = {"seconds": 6, "gop": 100}
JOIN_AFTER_S = 1.5


def _publish_and_join(srs: SrsProcess, clients: Clients, stream: str) -> float:
    pub = clients.add(publish_file(srs.rtmp_url(stream), lavfi_clip(**GOP_CLIP)))
    srs.wait_log(f"publish ip=127.0.0.1 url=/live/{stream} ")
    time.sleep(JOIN_AFTER_S)
    assert pub.poll() is None
    return time.monotonic()


def test_gop_cache_on_newcomer_starts_with_a_keyframe_at_once(
    start_srs: StartServer, stream_name: str, clients: Clients, bg: ThreadPoolExecutor
) -> None:
    """``gop_cache on`` (the default): a player joining mid-GOP first gets the cached GOP, so its
    first picture is the GOP's keyframe (from the past) and the GOP arrives at once."""
    srs = start_srs(vhost_body=_vhost("gop_cache on;"))
    _publish_and_join(srs, clients, stream_name)
    rtmp = bg.submit(probe, srs.rtmp_url(stream_name), packets=30, rw_timeout_s=5)
    cap = capture_http_flv(srs.flv_url(stream_name), max_seconds=1.0)
    pictures = cap.frames(VIDEO)
    assert pictures, "no video in the first second"
    assert pictures[0].is_keyframe, "gop_cache on: the HTTP-FLV newcomer's first picture is not a keyframe"
    assert pictures[0].timestamp_ms < 100, (
        "gop_cache on: the first picture is not the cached keyframe (at 0 s)"
    )
    assert pictures[0].arrived_s - cap.started_s < 1.0, "gop_cache on: the first picture came late"
    # The cache holds the ~1.5 s since the keyframe (~37 pictures at 25 fps) and is sent in one
    # burst; live pictures would come one every 40 ms (~8 in 0.3 s).
    burst = [t for t in pictures if t.arrived_s - pictures[0].arrived_s < 0.3]
    assert len(burst) >= int(JOIN_AFTER_S * 25 * 0.8), f"only {len(burst)} pictures in the first 0.3 s"
    got = rtmp.result(timeout=10)
    assert got.video is not None
    assert (got.video.codec_name, got.video.width, got.video.height) == ("h264", 320, 240)
    assert got.video.key[0], "gop_cache on: the RTMP newcomer's first picture is not a keyframe"
    assert got.video.dts[0] < 0.1, "gop_cache on: the RTMP newcomer did not start at the cached keyframe"


def test_gop_cache_off_newcomer_still_plays(
    start_srs: StartServer, stream_name: str, clients: Clients, tmp_path: Path
) -> None:
    """``gop_cache off``: a newcomer gets no cached GOP (its first picture is whatever comes
    live, not a keyframe - SRS behaviour) but still plays: a recording has pictures of the right
    size, from the next keyframe on."""
    srs = start_srs(vhost_body=_vhost("gop_cache off;"))
    _publish_and_join(srs, clients, stream_name)
    cap = capture_http_flv(srs.flv_url(stream_name), max_seconds=1.0)
    pictures = cap.frames(VIDEO)
    assert pictures, "no video in the first second"
    assert not pictures[0].is_keyframe, (
        "gop_cache off: the newcomer got a keyframe first, so a GOP was cached"
    )
    assert len(pictures) <= 30, f"gop_cache off: {len(pictures)} pictures in 1 s of 25 fps: a cache burst"
    assert pictures[0].timestamp_ms >= JOIN_AFTER_S * 1000 * 0.8, "gop_cache off: old pictures were sent"
    out = tmp_path / "off.flv"
    rec = record(srs.rtmp_url(stream_name), out, seconds=2.5, timeout_s=20)
    assert rec.returncode == 0, rec.stderr.decode(errors="replace")
    got = probe(out)
    assert got.video is not None and got.audio is not None
    assert (got.video.codec_name, got.video.width, got.video.height) == ("h264", 320, 240)
    # ffmpeg -c copy starts a recording at the first keyframe (the next GOP, at 4 s).
    assert got.video.key[0], "gop_cache off: the recording does not start with a keyframe"
    assert got.video.frames >= 20 and got.audio.codec_name == "aac"


@pytest.mark.parametrize(
    ("jitter", "first_ms"), [("full", (0, 100)), ("zero", (0, 0)), ("off", (100_000, 100_000))]
)
def test_time_jitter_on_a_late_clock(
    jitter: str,
    first_ms: tuple[int, int],
    start_srs: StartServer,
    stream_name: str,
    clients: Clients,
    bg: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    """An encoder whose clock starts at 100 s (every tag, sequence headers included): ``full``
    and ``zero`` make the stream start at (about) zero, ``off`` passes the timestamps through;
    all keep the spacing of the source. The tags are sent raw, at full speed."""
    srs = start_srs(vhost_body=_vhost(f"time_jitter {jitter};"))
    path = lavfi_clip(2)
    src = probe(path)
    late = tmp_path / "late.flv"
    late.write_bytes(shift_timestamps(path.read_bytes(), 100_000))
    flv = bg.submit(capture_http_flv, srs.flv_url(stream_name), max_seconds=15)
    srs.wait_players(stream_name, 1)
    pub = clients.add(publish_raw_flv(srs.rtmp_url(stream_name), late))
    _, err = pub.communicate(timeout=30)
    assert pub.returncode == 0, err.decode(errors="replace")
    cap = flv.result(timeout=10)
    assert cap.ended
    media = [t for t in cap.tags if t.type in (AUDIO, VIDEO)]
    lo, hi = first_ms
    assert lo <= media[0].timestamp_ms <= hi, (
        f"time_jitter {jitter}: the stream starts at {media[0].timestamp_ms} ms"
    )
    for kind, s in ((VIDEO, src.video), (AUDIO, src.audio)):
        assert s is not None
        ts = [t.timestamp_ms for t in cap.frames(kind)]
        assert len(ts) == s.frames
        assert ts == sorted(ts), f"time_jitter {jitter}: timestamps go back"
        span_ms = ts[-1] - ts[0]
        assert abs(span_ms - s.duration * 1000) <= 50, (
            f"time_jitter {jitter}: {span_ms} ms, source {s.duration}s"
        )


@pytest.mark.parametrize(("jitter", "starts_near_s"), [("full", 0.0), ("zero", 100.0), ("off", 100.0)])
def test_time_jitter_with_ffmpeg_output_ts_offset(
    jitter: str,
    starts_near_s: float,
    start_srs: StartServer,
    stream_name: str,
    clients: Clients,
    bg: ThreadPoolExecutor,
) -> None:
    """``ffmpeg -re ... -output_ts_offset 100``: its FLV muxer stamps metadata and sequence
    headers 0 and the frames from 100 s. ``full`` turns the jump into one small step (the stream
    starts near 0); ``zero`` takes its base from the first message (0, as SRS), so like ``off``
    the frames keep their 100 s. Whatever the mode, players that waited for the publisher play
    the whole stream over HTTP-FLV and RTMP."""
    srs = start_srs(vhost_body=_vhost(f"time_jitter {jitter};"))
    path = lavfi_clip(2)
    src = probe(path)
    flv = bg.submit(probe, srs.flv_url(stream_name), rw_timeout_s=5, timeout_s=30)
    rtmp = bg.submit(probe, srs.rtmp_url(stream_name), packets=src.packets, rw_timeout_s=5, timeout_s=30)
    srs.wait_players(stream_name, 2)
    pub = clients.add(
        ffmpeg_publish(srs.rtmp_url(stream_name), ["-re", "-i", str(path), "-output_ts_offset", "100"])
    )
    _, err = pub.communicate(timeout=30)
    assert pub.returncode == 0, err.decode(errors="replace")
    for what, fut in (("HTTP-FLV", flv), ("RTMP", rtmp)):
        try:
            got = fut.result(timeout=15)
        except subprocess.CalledProcessError as e:
            raise AssertionError(
                f"time_jitter {jitter}: ffprobe cannot play {what}: {e.stderr.decode()}"
            ) from None
        assert_plays_like(got, src, what=f"ffprobe {what}, time_jitter {jitter}", tol=EXACT_ISH)
        assert got.video is not None and got.audio is not None
        first = min(got.video.dts[0], got.audio.dts[0])
        assert abs(first - starts_near_s) < 0.2, f"time_jitter {jitter}: {what} starts at {first:.3f}s"
