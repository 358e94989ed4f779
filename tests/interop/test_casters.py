"""Stream casters with real clients: ffmpeg sends MPEG-TS over UDP, or POSTs FLV over HTTP; ffprobe
plays the stream over RTMP and HTTP-FLV."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import pytest

from support.checks import Tolerance, assert_plays_like
from support.media import SHARED, clip
from support.net import free_ports
from support.pyav import pyav_probe
from support.server import DEFAULT_VHOST_BODY, StartServer
from support.tools import Clients, probe

pytestmark = pytest.mark.interop

# TS starts at the first keyframe (bbb.flv's is at 80 ms: the audio before it is left out).
TS_TOL = Tolerance(0.02, 6)
SECONDS = 5  # of bbb.flv, sent in real time
VHOST = DEFAULT_VHOST_BODY + "\n    publish { normal_timeout 2000; }\n"


def _ffmpeg(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_mpegts_over_udp(
    start_srs: StartServer, stream_name: str, clients: Clients, bg: ThreadPoolExecutor
) -> None:
    """``caster mpegts_over_udp``: ffmpeg sends bbb.flv as TS datagrams; an RTMP and an HTTP-FLV player
    (there before the publish) get H.264 + AAC with the clip's frames; the stream ends when the
    datagrams stop (publish.normal_timeout)."""
    (udp,) = free_ports(1)
    extra = (
        f"stream_caster {{ enabled on; caster mpegts_over_udp; listen {udp};"
        f" output rtmp://127.0.0.1/live/{stream_name}; }}"
    )
    srs = start_srs(vhost_body=VHOST, extra=extra)
    srs.wait_log(f"caster mpegts_over_udp listen={udp}")
    src = probe(clip("bbb.flv"))
    players = [
        bg.submit(probe, srs.flv_url(stream_name), rw_timeout_s=6, timeout_s=60),
        bg.submit(probe, srs.rtmp_url(stream_name), rw_timeout_s=6, timeout_s=60),
    ]
    srs.wait_players(stream_name, 2)
    pub = clients.add(
        _ffmpeg(
            "-re",
            "-t",
            str(SECONDS),
            "-i",
            str(clip("bbb.flv")),
            "-c",
            "copy",
            "-f",
            "mpegts",
            f"udp://127.0.0.1:{udp}?pkt_size=1316",
        )
    )
    _, err = pub.communicate(timeout=60)
    assert pub.returncode == 0, err.decode(errors="replace")
    for what, p in zip(("HTTP-FLV", "RTMP"), players, strict=True):
        assert_plays_like(
            p.result(), src, what=f"ffprobe {what} of the UDP caster", seconds=SECONDS, tol=TS_TOL
        )
    log = srs.wait_log("caster unpublish")
    assert "no data: idle timeout" in log


def test_flv_post(start_srs: StartServer, stream_name: str, clients: Clients, bg: ThreadPoolExecutor) -> None:
    """``caster flv``: ffmpeg POSTs bbb.flv (chunked) to /live/<stream>.flv; an RTMP player gets the clip."""
    (port,) = free_ports(1)
    extra = (
        f"stream_caster {{ enabled on; caster flv; listen {port}; output rtmp://127.0.0.1/[app]/[stream]; }}"
    )
    srs = start_srs(extra=extra)
    srs.wait_log(f"caster flv listen={port}")
    src = probe(clip("bbb.flv"))
    players = [
        bg.submit(probe, srs.rtmp_url(stream_name), rw_timeout_s=6, timeout_s=60),
        bg.submit(probe, srs.flv_url(stream_name), rw_timeout_s=6, timeout_s=60),
    ]
    srs.wait_players(stream_name, 2)
    url = f"http://127.0.0.1:{port}/live/{stream_name}.flv"
    pub = clients.add(
        _ffmpeg(
            "-re",
            "-t",
            str(SECONDS),
            "-i",
            str(clip("bbb.flv")),
            "-c",
            "copy",
            "-f",
            "flv",
            "-method",
            "POST",
            url,
        )
    )
    _, err = pub.communicate(timeout=60)
    assert pub.returncode == 0, err.decode(errors="replace")
    for what, p in zip(("RTMP", "HTTP-FLV"), players, strict=True):
        assert_plays_like(
            p.result(), src, what=f"ffprobe {what} of the FLV caster", seconds=SECONDS, tol=Tolerance(0.02, 3)
        )
    assert f"caster unpublish url=/live/{stream_name} (body ended)" in srs.wait_log("caster unpublish")


def _remux_to_ts(src: Path, out: Path) -> Path:
    """hevc.flv (Enhanced RTMP hvc1, which Debian's ffmpeg 5.1 cannot read) -> TS, with PyAV."""
    with av.open(str(src)) as inp, av.open(str(out), "w", format="mpegts") as dst:
        streams = {
            s.index: dst.add_stream_from_template(s) for s in inp.streams if s.type in ("audio", "video")
        }
        for pkt in inp.demux():
            if pkt.dts is None or pkt.stream.index not in streams:
                continue
            pkt.stream = streams[pkt.stream.index]
            dst.mux(pkt)
    return out


def test_mpegts_over_udp_hevc(
    start_srs: StartServer, stream_name: str, clients: Clients, bg: ThreadPoolExecutor, tmp_path: Path
) -> None:
    """H.265 in TS over UDP becomes Enhanced RTMP hvc1: PyAV plays it over HTTP-FLV frame for frame."""
    (udp,) = free_ports(1)
    extra = (
        f"stream_caster {{ enabled on; caster mpegts_over_udp; listen {udp};"
        f" output rtmp://127.0.0.1/live/{stream_name}; }}"
    )
    srs = start_srs(vhost_body=VHOST, extra=extra)
    srs.wait_log(f"caster mpegts_over_udp listen={udp}")
    src = pyav_probe(SHARED / "hevc.flv")
    ts = _remux_to_ts(SHARED / "hevc.flv", tmp_path / "hevc.ts")
    player = bg.submit(pyav_probe, srs.flv_url(stream_name), max_seconds=60, rw_timeout_s=6)
    srs.wait_players(stream_name, 1)
    pub = clients.add(
        _ffmpeg("-re", "-i", str(ts), "-c", "copy", "-f", "mpegts", f"udp://127.0.0.1:{udp}?pkt_size=1316")
    )
    _, err = pub.communicate(timeout=60)
    assert pub.returncode == 0, err.decode(errors="replace")
    got = player.result()
    assert got.video is not None and got.video.codec_name == "hevc"
    assert_plays_like(got, src, what="PyAV HTTP-FLV of HEVC over the UDP caster", tol=TS_TOL)
