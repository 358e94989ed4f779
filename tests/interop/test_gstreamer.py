"""A second, independent client family: GStreamer plays our HLS and HTTP-TS.

``gst-launch-1.0`` (Debian's GStreamer 1.22: ``souphttpsrc``, ``hlsdemux``, ``tsdemux``, ``h264parse``,
``aacparse``, ``avdec_h264``, ``avdec_aac``) demuxes and *decodes* the stream; the decoded frames go to
files (raw I420 video, raw S16 audio) whose sizes count the frames exactly (``fakesink``'s
``last-message`` lines are overwritten faster than ``-v`` prints them). The negotiated caps printed by
``-v`` give the codecs and the picture size. ``scripts/install-system-deps.sh`` installs GStreamer in CI.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.media import clip
from support.server import StartServer
from support.tools import Clients, probe, publish_file

pytestmark = [pytest.mark.interop, pytest.mark.timeout(150)]

HLS = """
    hls {
        enabled         on;
        hls_fragment    2;
        hls_window      60;
    }
"""
TS_MOUNT = """
    http_remux {
        enabled     on;
        mount       [vhost]/[app]/[stream].ts;
    }
"""
W, H = 640, 360  # bbb.flv
VIDEO_FRAME = W * H * 3 // 2  # I420
AUDIO_FRAME = 1024 * 2 * 2  # one AAC frame decoded: 1024 samples, stereo, S16


@dataclass
class GstRun:
    proc: subprocess.Popen[bytes]
    out: Path
    video: Path
    audio: Path

    def frames(self) -> tuple[int, int]:
        def size(p: Path) -> int:
            return p.stat().st_size if p.exists() else 0

        return size(self.video) // VIDEO_FRAME, size(self.audio) // AUDIO_FRAME

    def log(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""


def gst_play(src: str, tmp: Path, clients: Clients) -> GstRun:
    """``gst-launch-1.0 -v -e <src> ! tsdemux`` decoding H.264 and AAC into raw files."""
    video, audio, out = tmp / "v.i420", tmp / "a.s16", tmp / "gst.log"
    pipeline = (
        f"{src} ! tsdemux name=d "
        "d. ! queue ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=I420 "
        f"! filesink location={video} "
        "d. ! queue ! aacparse ! avdec_aac ! audioconvert "
        "! audio/x-raw,format=S16LE,layout=interleaved,channels=2 "
        f"! filesink location={audio}"
    )
    log = out.open("wb")
    proc = clients.add(
        subprocess.Popen(
            ["gst-launch-1.0", "-v", "-e", *pipeline.split()], stdout=log, stderr=subprocess.STDOUT
        )
    )
    log.close()
    return GstRun(proc, out, video, audio)


def wait_for(cond: Callable[[], bool], timeout_s: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(what())
        time.sleep(0.2)


def assert_caps(log: str) -> None:
    """The negotiated caps: H.264 and AAC (MPEG-4 audio) out of tsdemux, decoded to 640x360 I420
    video and 44.1 kHz stereo audio.

    Each is looked for on any pad that carries it: ``-v`` prints caps from deep-notify messages and
    now and then misses some pads' (e.g. the parsers' src caps) when several are set at once.
    """
    caps = [ln.split(" caps = ", 1)[1] for ln in log.splitlines() if " caps = " in ln]
    assert any(c.startswith("video/x-h264") for c in caps), log[-3000:]
    assert any(c.startswith("audio/mpeg") and "mpegversion=(int)4" in c for c in caps), log[-3000:]
    assert any(
        c.startswith("video/x-raw") and "I420" in c and f"width=(int){W}," in c and f"height=(int){H}," in c
        for c in caps
    ), log[-3000:]
    assert any(
        c.startswith("audio/x-raw") and "rate=(int)44100" in c and "channels=(int)2" in c for c in caps
    ), log[-3000:]
    assert "ERROR" not in log, log[-3000:]


def test_gstreamer_plays_live_hls(
    start_srs: StartServer, stream_name: str, clients: Clients, tmp_path: Path
) -> None:
    """ffmpeg publishes bbb.flv in a loop in real time; GStreamer's hlsdemux follows the live
    playlist (through the HLS session's master playlist) and decodes 4 s of video and audio."""
    srs = start_srs(vhost_body=HLS)
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), clip("bbb.flv"), loops=-1))
    m3u8 = srs.workdir / "objs" / "nginx" / "html" / "live" / f"{stream_name}.m3u8"
    wait_for(
        lambda: m3u8.exists() and m3u8.read_text().count("#EXTINF") >= 2,
        30,
        lambda: f"no playlist with 2 segments; publisher alive={pub.poll() is None}",
    )
    url = f"http://127.0.0.1:{srs.ports.http}/live/{stream_name}.m3u8"
    gst = gst_play(f"souphttpsrc location={url} ! hlsdemux", tmp_path, clients)
    want_v, want_a = 100, 150  # 4 s of 25 fps video, 3.5 s of AAC at 44.1 kHz
    wait_for(
        lambda: gst.proc.poll() is not None or (gst.frames()[0] >= want_v and gst.frames()[1] >= want_a),
        90,
        lambda: f"GStreamer decoded {gst.frames()} frames\n{gst.log()[-3000:]}",
    )
    assert gst.proc.poll() is None, f"gst-launch ended early\n{gst.log()[-3000:]}"
    gst.proc.send_signal(signal.SIGINT)  # -e: an EOS flushes the files, then a clean exit
    try:
        gst.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        gst.proc.kill()
    video, audio = gst.frames()
    assert video >= want_v and audio >= want_a
    assert_caps(gst.log())


def test_gstreamer_plays_http_ts(
    start_srs: StartServer, stream_name: str, clients: Clients, tmp_path: Path
) -> None:
    """GStreamer waits on the HTTP-TS URL, ffmpeg publishes bbb.flv once: every video and audio
    frame of the clip is decoded (250 + 432), and gst-launch ends by itself when the publisher
    leaves (the response ends, EOS)."""
    srs = start_srs(vhost_body=TS_MOUNT)
    url = f"http://127.0.0.1:{srs.ports.http}/live/{stream_name}.ts"
    src = probe(clip("bbb.flv"))
    assert src.video is not None and src.audio is not None
    gst = gst_play(f"souphttpsrc location={url}", tmp_path, clients)
    srs.wait_players(stream_name, 1, timeout_s=30)
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), clip("bbb.flv")))
    _, err = pub.communicate(timeout=60)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"
    try:
        code = gst.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"gst-launch did not end\n{gst.log()[-3000:]}") from None
    assert code == 0, gst.log()[-3000:]
    video, audio = gst.frames()
    assert abs(video - src.video.frames) <= 1, (video, src.video.frames)
    assert abs(audio - src.audio.frames) <= 1, (audio, src.audio.frames)
    assert_caps(gst.log())
