"""HLS (TS segments) written while ffmpeg publishes over RTMP, read by ffprobe over HTTP."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support.checks import Tolerance, assert_plays_like
from support.media import clip
from support.server import StartServer
from support.tools import Clients, probe, publish_file, publish_raw_flv

pytestmark = pytest.mark.interop

HLS = """
    hls {
        enabled         on;
        hls_fragment    2;
        hls_window      60;
    }
"""


@pytest.mark.parametrize("name", ["avatar.flv", "bbb.flv"])
def test_ffprobe_plays_the_hls_of_an_rtmp_publish(
    name: str, start_srs: StartServer, stream_name: str, clients: Clients
) -> None:
    srs = start_srs(vhost_body=HLS)
    src = probe(clip(name))
    # Twice in a row, as fast as ffmpeg reads: ffprobe's packet limit only ends the read when the
    # packet after it arrives, and a live playlist without the second round would never bring it.
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), clip(name), realtime=False, loops=1))
    _, err = pub.communicate(timeout=45)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"
    url = f"http://127.0.0.1:{srs.ports.http}/live/{stream_name}.m3u8"
    # A live playlist (no ENDLIST): start at its first segment and stop after the clip's packets.
    got = probe(url, extra=["-live_start_index", "0"], packets=src.packets, timeout_s=60)
    # +-3: the first N packets of the looped stream split between audio and video a little
    # differently than the file's, since ffmpeg hands a video PES on when the next one starts.
    assert_plays_like(got, src, what="ffprobe HLS", tol=Tolerance(0.0, 3))
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


def test_hls_of_enhanced_rtmp_hevc(start_srs: StartServer, stream_name: str, clients: Clients) -> None:
    """hevc.flv (Enhanced RTMP ``hvc1`` + AAC, sent tag for tag) becomes HEVC in TS segments."""
    srs = start_srs(vhost_body=HLS)
    for _ in range(2):  # the second publish brings the packets after the first one's last
        pub = clients.add(publish_raw_flv(srs.rtmp_url(stream_name), clip("hevc.flv")))
        _, err = pub.communicate(timeout=45)
        assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"
    url = f"http://127.0.0.1:{srs.ports.http}/live/{stream_name}.m3u8"
    got = probe(url, extra=["-live_start_index", "0"], packets=250 + 432, timeout_s=60)
    assert got.video is not None and got.audio is not None
    assert (got.video.codec_name, got.video.width, got.video.height) == ("hevc", 640, 360)
    assert got.audio.codec_name == "aac"
    assert abs(got.video.frames - 250) <= 3 and abs(got.audio.frames - 432) <= 3
