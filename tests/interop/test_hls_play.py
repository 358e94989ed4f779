"""HLS (TS segments) written while ffmpeg publishes over RTMP, read by ffprobe over HTTP."""

from __future__ import annotations

import pytest

from support.checks import Tolerance, assert_plays_like
from support.media import clip
from support.server import StartServer
from support.tools import Clients, probe, publish_file

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
