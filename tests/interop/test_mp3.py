"""MP3 audio over RTMP: with H.264 video, and pure audio (the GOP cache's pure-audio case)."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.checks import EXACT_ISH, assert_plays_like, assert_stream_matches
from support.flv import capture_http_flv
from support.server import SrsProcess
from support.tools import Clients, probe, publish_file

pytestmark = pytest.mark.interop


def make_clip(out: Path, *, video: bool, seconds: float = 3) -> Path:
    inputs = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    codecs = ["-c:a", "libmp3lame", "-b:a", "64k", "-ar", "44100"]
    if video:
        inputs = ["-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={seconds}", *inputs]
        codecs = ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", *codecs]
    subprocess.run(["ffmpeg", "-y", "-v", "error", *inputs, *codecs, "-f", "flv", str(out)], check=True)
    return out


def test_h264_with_mp3_audio(
    srs: SrsProcess, stream_name: str, clients: Clients, bg: ThreadPoolExecutor, tmp_path: Path
) -> None:
    path = make_clip(tmp_path / "mp3.flv", video=True)
    src = probe(path)
    assert src.audio is not None and src.audio.codec_name == "mp3"
    rtmp = bg.submit(probe, srs.rtmp_url(stream_name), packets=src.packets, rw_timeout_s=5, timeout_s=40)
    flv = bg.submit(probe, srs.flv_url(stream_name), rw_timeout_s=5, timeout_s=40)
    srs.wait_players(stream_name, 2)
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), path))
    _, err = pub.communicate(timeout=30)
    assert pub.returncode == 0, err.decode(errors="replace")
    for what, fut in (("ffprobe RTMP", rtmp), ("ffprobe HTTP-FLV", flv)):
        got = fut.result(timeout=30)
        assert_plays_like(got, src, what=what, tol=EXACT_ISH)
        assert got.audio is not None and got.audio.codec_name == "mp3"
        assert got.audio.sample_rate == 44100


def test_pure_mp3_audio_stream(
    srs: SrsProcess, stream_name: str, clients: Clients, bg: ThreadPoolExecutor, tmp_path: Path
) -> None:
    """An audio-only stream: the HTTP-FLV header declares audio only and every frame arrives."""
    path = make_clip(tmp_path / "audio.flv", video=False)
    src = probe(path)
    assert src.audio is not None and src.video is None
    raw = bg.submit(capture_http_flv, srs.flv_url(stream_name), max_seconds=30)
    rtmp = bg.submit(probe, srs.rtmp_url(stream_name), packets=src.packets, rw_timeout_s=5, timeout_s=40)
    srs.wait_players(stream_name, 2)
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), path))
    _, err = pub.communicate(timeout=30)
    assert pub.returncode == 0, err.decode(errors="replace")
    cap = raw.result(timeout=30)
    assert cap.ended, "the HTTP-FLV response must end when the publisher leaves"
    assert cap.body[:3] == b"FLV" and cap.body[4] == 0x04  # audio only
    got = rtmp.result(timeout=30)
    assert got.video is None and got.audio is not None and got.audio.codec_name == "mp3"
    assert_stream_matches(got.audio, src.audio, what="ffprobe RTMP", tol=EXACT_ISH)
