"""DASH written while a publisher sends RTMP, read by ffprobe over HTTP (its dash demuxer)."""

from __future__ import annotations

import urllib.request

import pytest

from srs.format import mpd
from support.checks import Tolerance, assert_plays_like
from support.media import clip
from support.pyav import PyavPublisher
from support.server import StartServer
from support.tools import Clients, probe, publish_file

pytestmark = pytest.mark.interop

DASH = """
    dash {
        enabled         on;
        dash_fragment   2;
        dash_window_size 30;
    }
"""
EDGE = 5  # packets ffmpeg's dash demuxer holds back at the live edge


def _mpd(port: int, stream: str) -> mpd.Mpd:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/live/{stream}.mpd", timeout=10) as r:
        assert r.headers["Content-Type"] == "application/dash+xml"
        assert r.headers["Cache-Control"] == "no-cache"
        return mpd.parse(r.read().decode())


@pytest.mark.parametrize("name", ["avatar.flv", "bbb.flv"])
def test_ffprobe_plays_the_dash_of_an_rtmp_publish(
    name: str, start_srs: StartServer, stream_name: str, clients: Clients
) -> None:
    srs = start_srs(vhost_body=DASH)
    src = probe(clip(name))
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), clip(name), realtime=True))
    _, err = pub.communicate(timeout=45)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"
    doc = _mpd(srs.ports.http, stream_name)
    assert src.video is not None and src.audio is not None
    kinds = {r.kind: r for r in doc.representations}
    assert (kinds["video"].width, kinds["video"].height) == (src.video.width, src.video.height)
    assert kinds["video"].codecs.startswith("avc1.") and kinds["audio"].codecs == "mp4a.40.2"
    # Every fragment is listed (the window is larger than the clip): ffprobe reads them all, but the
    # last few packets of a live edge stay in its demuxer until a next fragment that never comes.
    url = f"http://127.0.0.1:{srs.ports.http}/live/{stream_name}.mpd"
    got = probe(url, packets=src.packets - EDGE, timeout_s=60)
    assert_plays_like(got, src, what="ffprobe DASH", tol=Tolerance(0.0, EDGE))
    assert got.video is not None and got.audio is not None
    skew = (got.audio.dts[0] - got.video.dts[0]) - (src.audio.dts[0] - src.video.dts[0])
    assert abs(skew) < 0.1, skew


def test_dash_of_enhanced_rtmp_hevc(start_srs: StartServer, stream_name: str, clients: Clients) -> None:
    """hevc.flv (Enhanced RTMP ``hvc1`` + AAC, published by PyAV) becomes HEVC fMP4 fragments with
    its own codecs string. (A dynamic MPD is timed by the wall clock: publishers send in real time.)"""
    srs = start_srs(vhost_body=DASH)
    publisher = PyavPublisher(srs.rtmp_url(stream_name), clip("hevc.flv"))  # in real time
    publisher.start()
    assert publisher.finish(timeout_s=30) == 250 + 432
    doc = _mpd(srs.ports.http, stream_name)
    assert {r.kind: r.codecs for r in doc.representations}["video"].startswith("hvc1.1.")
    url = f"http://127.0.0.1:{srs.ports.http}/live/{stream_name}.mpd"
    got = probe(url, packets=250 + 432 - EDGE, timeout_s=60)
    assert got.video is not None and got.audio is not None
    assert (got.video.codec_name, got.video.width, got.video.height) == ("hevc", 640, 360)
    assert abs(got.video.frames - 250) <= EDGE and abs(got.audio.frames - 432) <= EDGE
