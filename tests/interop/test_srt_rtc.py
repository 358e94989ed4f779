"""SRT in, WebRTC out (SRS's srt2rtc): ffmpeg publishes MPEG-TS over SRT, aiortc plays it by WHEP
(H.264 re-packetized, AAC transcoded to Opus once per stream), through the one shared Source."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from support.media import clip
from support.rtc import whep_play
from support.server import Ports, SrsProcess, render_conf
from support.tools import Clients

pytestmark = pytest.mark.interop

VHOST = """
    srt { enabled on; srt_to_rtmp on; }
    rtc { enabled on; rtmp_to_rtc on; }
"""
EXTRA = """
srt_server { enabled on; listen 0; }
rtc_server { enabled on; listen 0; candidate 127.0.0.1; }
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SrsProcess]:
    ports = Ports()
    s = SrsProcess(
        tmp_path_factory.mktemp("srt2rtc"), render_conf(ports, vhost_body=VHOST, extra=EXTRA), ports
    )
    s.start()
    m = re.search(r"SRT listen=udp://[^:]+:(\d+)", s.wait_log("SRT listen=udp://"))
    assert m is not None
    s.srt_port = int(m.group(1))  # type: ignore[attr-defined]
    yield s
    code = s.stop()
    print(f"----- server log (exit {code}) -----\n{s.log()[-20000:]}")


def test_whep_plays_an_srt_publish(srv: SrsProcess, clients: Clients) -> None:
    stream = f"s{uuid.uuid4().hex[:8]}"
    url = f"srt://127.0.0.1:{srv.srt_port}?streamid=#!::r=live/{stream},m=publish"  # type: ignore[attr-defined]
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-re", "-stream_loop", "-1"]
    cmd += ["-i", str(clip("bbb.flv")), "-c", "copy", "-pes_payload_size", "0", "-f", "mpegts", url]
    clients.add(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    srv.wait_log(f"/live/{stream}", 10)
    whep = f"http://127.0.0.1:{srv.ports.api}/rtc/v1/whep/?app=live&stream={stream}"
    got = asyncio.run(whep_play(whep, 15, until_frames=50, until_audio_frames=50))
    assert got.connected, got.states
    assert got.codecs == {"audio": "audio/opus", "video": "video/H264"}
    assert got.video_frames >= 50 and set(got.video_sizes) == {(640, 360)}, got
    assert got.audio_frames >= 50 and got.audio_rate == 48000 and got.audio_nonsilent, got
    assert not got.errors
