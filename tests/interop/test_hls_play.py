"""HLS (TS or fMP4 segments, clear or AES-128) written while ffmpeg publishes over RTMP, read by
ffprobe over HTTP (it fetches the keys and decrypts)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from support.checks import Tolerance, assert_plays_like
from support.media import clip
from support.pyav import PyavPublisher
from support.server import StartServer
from support.tools import Clients, ProbeResult, probe, publish_file, publish_raw_flv

pytestmark = pytest.mark.interop

HLS = """
    hls {
        enabled         on;
        hls_fragment    2;
        hls_window      60;
    }
"""
MODES = {
    "ts": HLS,
    "fmp4": HLS.replace("hls_window      60;", "hls_window 60; hls_use_fmp4 on;"),
    "ts+keys": HLS.replace("hls_window      60;", "hls_window 60; hls_keys on; hls_fragments_per_key 2;"),
    "fmp4+keys": HLS.replace("hls_window      60;", "hls_window 60; hls_use_fmp4 on; hls_keys on;"),
}


def first_loop(got: ProbeResult, src: ProbeResult) -> ProbeResult:
    """Each stream's packets of the first of two published loops (by timestamp: an fMP4 fragment
    holds its video before its audio, so a packet count would cut the streams unevenly)."""
    streams = []
    for g in got.streams:
        s = src.video if g.codec_type == "video" else src.audio
        assert s is not None and g.dts, g
        end = g.dts[0] + s.duration + 0.01
        n = sum(1 for t in g.dts if t < end)
        streams.append(replace(g, dts=g.dts[:n], key=g.key[:n], keyframes=sum(g.key[:n])))
    return ProbeResult(got.format_name, streams)


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("avatar.flv", "ts"),
        ("avatar.flv", "fmp4"),
        ("avatar.flv", "fmp4+keys"),
        ("bbb.flv", "ts"),
        ("bbb.flv", "ts+keys"),
    ],
)
def test_ffprobe_plays_the_hls_of_an_rtmp_publish(
    name: str, mode: str, start_srs: StartServer, stream_name: str, clients: Clients
) -> None:
    srs = start_srs(vhost_body=MODES[mode])
    src = probe(clip(name))
    # Twice in a row, as fast as ffmpeg reads: ffprobe's packet limit only ends the read when the
    # packet after it arrives, and a live playlist without the second round would never bring it.
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), clip(name), realtime=False, loops=1))
    _, err = pub.communicate(timeout=45)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"
    url = f"http://127.0.0.1:{srs.ports.http}/live/{stream_name}.m3u8"
    # A live playlist (no ENDLIST): start at its first segment and stop after the clip's packets.
    got = first_loop(
        probe(url, extra=["-live_start_index", "0"], packets=src.packets * 3 // 2, timeout_s=60), src
    )
    assert_plays_like(got, src, what=f"ffprobe HLS {mode}", tol=Tolerance(0.0, 1))
    # A/V sync: the first audio and video timestamps as close as in the source (within 100 ms).
    assert got.video is not None and got.audio is not None and src.video is not None and src.audio is not None
    skew = (got.audio.dts[0] - got.video.dts[0]) - (src.audio.dts[0] - src.video.dts[0])
    assert abs(skew) < 0.1, skew


@pytest.mark.parametrize(
    ("what", "video", "acodec"),
    [
        ("h264+mp3", True, "libmp3lame"),
        ("aac audio-only", False, "aac"),
        ("mp3 audio-only", False, "libmp3lame"),
    ],
)
def test_hls_of_mp3_and_audio_only_streams(
    what: str,
    video: bool,
    acodec: str,
    start_srs: StartServer,
    stream_name: str,
    clients: Clients,
    tmp_path: Path,
) -> None:
    """Audio-only streams are segmented on audio (hls_aof_ratio), MP3 goes in TS as MPEG audio."""
    path = tmp_path / "in.flv"
    inputs = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=6"]
    codecs = ["-c:a", acodec, "-b:a", "64k"]
    if video:
        inputs = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=6", *inputs]
        codecs = ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", *codecs]
    subprocess.run(
        ["ffmpeg", "-y", "-v", "error", *inputs, *codecs, "-f", "flv", str(path)], check=True, timeout=60
    )
    src = probe(path)
    srs = start_srs(vhost_body=HLS)
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), path, realtime=False, loops=1))
    _, err = pub.communicate(timeout=45)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"
    url = f"http://127.0.0.1:{srs.ports.http}/live/{stream_name}.m3u8"
    got = probe(url, extra=["-live_start_index", "0"], packets=src.packets, timeout_s=60)
    assert src.audio is not None and got.audio is not None, what
    assert got.audio.codec_name == src.audio.codec_name and got.audio.sample_rate == src.audio.sample_rate
    assert abs(got.audio.frames - src.audio.frames) <= 3, (got.audio.frames, src.audio.frames)
    if video:
        assert got.video is not None and src.video is not None
        assert (got.video.codec_name, got.video.width) == ("h264", 320)
        assert abs(got.video.frames - src.video.frames) <= 3
    else:
        assert got.video is None


@pytest.mark.parametrize("mode", ["ts", "fmp4"])
def test_hls_of_enhanced_rtmp_hevc(
    mode: str, start_srs: StartServer, stream_name: str, clients: Clients
) -> None:
    """hevc.flv (Enhanced RTMP ``hvc1`` + AAC) becomes HEVC in TS segments (sent tag for tag by
    ffmpeg's data muxer) or fMP4 segments (published by PyAV's newer FFmpeg, as a user would)."""
    srs = start_srs(vhost_body=MODES[mode])
    for _ in range(2):  # the second publish brings the packets after the first one's last
        if mode == "fmp4":
            publisher = PyavPublisher(srs.rtmp_url(stream_name), clip("hevc.flv"), realtime=False)
            publisher.start()
            assert publisher.finish(timeout_s=45) == 250 + 432
            continue
        pub = clients.add(publish_raw_flv(srs.rtmp_url(stream_name), clip("hevc.flv")))
        _, err = pub.communicate(timeout=45)
        assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"
    url = f"http://127.0.0.1:{srs.ports.http}/live/{stream_name}.m3u8"
    got = probe(url, extra=["-live_start_index", "0"], packets=250 + 432, timeout_s=60)
    assert got.video is not None and got.audio is not None
    assert (got.video.codec_name, got.video.width, got.video.height) == ("hevc", 640, 360)
    assert got.audio.codec_name == "aac"
    assert abs(got.video.frames - 250) <= 3 and abs(got.audio.frames - 432) <= 3
