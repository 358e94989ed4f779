"""HLS sessions with real players: ffmpeg opens the playlist URL, follows SRS's master playlist to
the session's media playlist (``?hls_ctx=<id>``), fetches segments carrying the id and decodes
frames; the server shows it as an ``hls-play`` client with the bytes it was sent."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from typing import Any

import pytest

from support.media import clip
from support.server import SrsProcess, StartServer
from support.tools import Clients, publish_file

pytestmark = pytest.mark.interop

HLS = """
    hls {
        enabled         on;
        hls_fragment    2;
        hls_window      60;
    }
"""


def hls_clients(srs: SrsProcess) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{srs.ports.api}/api/v1/clients/", timeout=5) as resp:
        doc = json.loads(resp.read())
    return [c for c in doc["clients"] if c["type"] == "hls-play"]


def test_ffmpeg_plays_through_the_session_master_playlist(
    start_srs: StartServer, stream_name: str, clients: Clients
) -> None:
    srs = start_srs(vhost_body=HLS)
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), clip("avatar.flv"), realtime=False))
    _, err = pub.communicate(timeout=45)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"
    url = f"http://127.0.0.1:{srs.ports.http}/live/{stream_name}.m3u8"
    # ffmpeg (hls demuxer) reads the master playlist, opens its one variant and decodes 50 frames.
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-live_start_index", "0", "-i", url,
         "-map", "0:v", "-frames:v", "50", "-f", "framemd5", "-"],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    frames = [ln for ln in out.stdout.decode().splitlines() if ln and not ln.startswith("#")]
    assert len(frames) == 50
    # One session, for the stream, with at least the segments' bytes (stats sample every second).
    deadline = time.monotonic() + 10
    while True:
        found = hls_clients(srs)
        if len(found) == 1 and found[0]["send_bytes"] > 100_000:
            break
        assert time.monotonic() < deadline, f"hls-play client with bytes: {found}"
        time.sleep(0.2)
    (c,) = found
    assert c["url"] == f"/live/{stream_name}" and c["ip"] == "127.0.0.1"
    # ffprobe too, as a second player: a second session.
    subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", url],
        capture_output=True,
        timeout=60,
        check=True,
    )
    ids = {x["id"] for x in hls_clients(srs)}
    assert len(ids) == 2 and c["id"] in ids
