"""HTTP-TS live (``http_remux`` mount ending in ``.ts``), played by ffprobe and ffmpeg."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.checks import EXACT_ISH, assert_plays_like
from support.media import clip
from support.server import StartServer
from support.tools import Clients, probe, publish_file

pytestmark = pytest.mark.interop

TS_MOUNT = """
    http_remux {
        enabled     on;
        mount       [vhost]/[app]/[stream].ts;
    }
"""


@pytest.mark.parametrize("name", ["avatar.flv", "bbb.flv"])
def test_http_ts_players_get_every_frame(
    name: str,
    start_srs: StartServer,
    stream_name: str,
    clients: Clients,
    bg: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    """Two ffprobe players wait on the .ts URL, ffmpeg publishes the clip over RTMP: both read
    MPEG-TS with the clip's codecs, sizes, every frame and monotonic DTS; the response ends when
    the publisher leaves."""
    srs = start_srs(vhost_body=TS_MOUNT)
    url = f"http://127.0.0.1:{srs.ports.http}/live/{stream_name}.ts"
    src = probe(clip(name))
    players = [bg.submit(probe, url, rw_timeout_s=5, timeout_s=45) for _ in range(2)]
    srs.wait_log(f"HTTP-TS play ip=127.0.0.1 url=/live/{stream_name} ")
    srs.wait_players(stream_name, 2)
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), clip(name)))
    _, err = pub.communicate(timeout=45)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"
    for p in players:
        assert_plays_like(p.result(), src, what="ffprobe HTTP-TS", tol=EXACT_ISH)
    assert "HTTP-TS stop" in srs.wait_log("HTTP-TS stop")


@pytest.mark.parametrize(("ext", "codec"), [(".aac", "aac"), (".mp3", "mp3")])
def test_http_aac_and_mp3_players_get_every_audio_frame(
    ext: str,
    codec: str,
    start_srs: StartServer,
    stream_name: str,
    clients: Clients,
    bg: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    """``.aac`` / ``.mp3`` mounts: ffprobe reads the stream's audio as ADTS / MP3 (every frame);
    the video of the clip is left out."""
    if codec == "aac":
        path = clip("bbb.flv")
    else:
        path = tmp_path / "mp3.flv"
        subprocess.run(
            ["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=3",
             "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-c:a", "libmp3lame", "-b:a", "64k",
             "-f", "flv", str(path)],
            check=True, timeout=60,
        )  # fmt: skip
    src = probe(path)
    assert src.audio is not None
    srs = start_srs(vhost_body=TS_MOUNT.replace(".ts;", f"{ext};"))
    url = f"http://127.0.0.1:{srs.ports.http}/live/{stream_name}{ext}"
    player = bg.submit(probe, url, rw_timeout_s=5, timeout_s=45)
    srs.wait_players(stream_name, 1)
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), path))
    _, err = pub.communicate(timeout=45)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"
    got = player.result()
    assert got.video is None and got.audio is not None
    assert (got.audio.codec_name, got.audio.sample_rate, got.audio.channels) == (
        codec, src.audio.sample_rate, src.audio.channels,
    )  # fmt: skip
    assert got.audio.frames == src.audio.frames
