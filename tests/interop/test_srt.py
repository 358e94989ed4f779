"""SRT with the reference clients (ffmpeg/ffprobe on libsrt, srt-live-transmit): publish MPEG-TS over
SRT, play it over RTMP and over SRT; the passphrase; refused streamids; 5% loss each way.

One server for the module, with a passphrase (every client gives it; a wrong one is refused by
libsrt's handshake). Every test uses its own stream names.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.lossy import Impairment, LossyRelay
from support.media import clip
from support.server import Ports, SrsProcess, render_conf
from support.tools import Clients, probe

pytestmark = pytest.mark.interop

MEDIA = str(clip("bbb.flv"))
PASS = "srs-test-passphrase"
VHOST = """
    srt { enabled on; srt_to_rtmp on; }
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
    hls { enabled on; hls_fragment 1; hls_window 6; hls_ctx off; }
"""
EXTRA = f"""
srt_server {{ enabled on; listen 0; passphrase {PASS}; pbkeylen 16; peer_idle_timeout 3000; }}
vhost nosrt.test {{ }}
"""


@pytest.fixture(scope="module")
def srt_srs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SrsProcess]:
    ports = Ports()
    srv = SrsProcess(tmp_path_factory.mktemp("srt"), render_conf(ports, vhost_body=VHOST, extra=EXTRA), ports)
    srv.start()
    m = re.search(r"SRT listen=udp://[^:]+:(\d+)", srv.wait_log("SRT listen=udp://"))
    assert m is not None
    srv.srt_port = int(m.group(1))  # type: ignore[attr-defined]
    yield srv
    code = srv.stop()
    print(f"----- server log (exit {code}) -----\n{srv.log()[-20000:]}")


def _name() -> str:
    return f"s{uuid.uuid4().hex[:8]}"


def srt_url(srv: SrsProcess, streamid: str, passphrase: str = PASS, port: int = 0) -> str:
    p = port or srv.srt_port  # type: ignore[attr-defined]
    extra = f"&passphrase={passphrase}" if passphrase else ""
    return f"srt://127.0.0.1:{p}?streamid={streamid}{extra}"


def ffmpeg_srt_publish(url: str, seconds: float = 0, loops: int = 0) -> subprocess.Popen[bytes]:
    args = ["-stream_loop", str(loops)] if loops else []
    limit = ["-t", str(seconds)] if seconds else []
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-re", *args, "-i", MEDIA, *limit]
    cmd += ["-c", "copy", "-pes_payload_size", "0", "-f", "mpegts", url]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _codecs(srv: SrsProcess, url: str) -> dict[str, str]:
    """Codecs of ``url`` after 100 packets, both kinds with frames and a keyframe."""
    got = probe(url, packets=100, timeout_s=30)
    assert got.video is not None and got.audio is not None, got
    assert len(got.video.dts) >= 20 and got.video.keyframes >= 1 and len(got.audio.dts) >= 20, got
    assert got.video.monotonic() and got.audio.monotonic()
    return {s.codec_type: s.codec_name for s in got.streams}


def _wait_segments(url: str, n: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url) as r:
                if r.read().decode().count("#EXTINF") >= n:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url}: fewer than {n} segments")


def test_ffmpeg_publish_plays_over_rtmp_flv_hls_and_srt(srt_srs: SrsProcess, clients: Clients) -> None:
    stream = _name()
    clients.add(ffmpeg_srt_publish(srt_url(srt_srs, f"#!::r=live/{stream},m=publish"), loops=-1))
    srt_srs.wait_log(f"SRT publish ip=127.0.0.1 url=/live/{stream}", 10)
    rtmp = f"rtmp://127.0.0.1:{srt_srs.ports.rtmp}/live/{stream}"
    http = f"http://127.0.0.1:{srt_srs.ports.http}/live/{stream}"
    for url in (rtmp, http + ".flv", srt_url(srt_srs, f"#!::r=live/{stream},m=request")):
        assert _codecs(srt_srs, url) == {"video": "h264", "audio": "aac"}, url
    _wait_segments(http + ".m3u8", 3)
    assert _codecs(srt_srs, http + ".m3u8") == {"video": "h264", "audio": "aac"}
    # stats: SRS's client types, and a kick ends the publisher
    with urllib.request.urlopen(f"http://127.0.0.1:{srt_srs.ports.api}/api/v1/clients?count=100") as r:
        doc = json.load(r)
    ours = [c for c in doc["clients"] if c.get("url", "").endswith(f"/live/{stream}")]
    assert "srt-publish" in {c["type"] for c in ours}
    pub = next(c for c in ours if c["type"] == "srt-publish")
    req = urllib.request.Request(
        f"http://127.0.0.1:{srt_srs.ports.api}/api/v1/clients/{pub['id']}", method="DELETE"
    )
    with urllib.request.urlopen(req) as r:
        assert json.load(r)["code"] == 0
    srt_srs.wait_log(f"SRT unpublish url=/live/{stream}", 10)


def test_srt_live_transmit_publishes_and_plays(srt_srs: SrsProcess, tmp_path: object) -> None:
    stream = _name()
    pub_url = srt_url(srt_srs, f"#!::h=live/{stream},m=publish")  # SRS's old style
    ff = subprocess.Popen(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-re",
            "-i",
            MEDIA,
            "-t",
            "8",
            "-c",
            "copy",
            "-f",
            "mpegts",
            "-",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    slt = subprocess.Popen(
        ["srt-live-transmit", "-q", "-chunk:1316", "file://con", pub_url],
        stdin=ff.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert ff.stdout is not None
    ff.stdout.close()
    try:
        srt_srs.wait_log(f"SRT publish ip=127.0.0.1 url=/live/{stream}", 10)
        play = subprocess.run(
            ["timeout", "4", "srt-live-transmit", "-q", srt_url(srt_srs, f"live/{stream}"), "file://con"],
            capture_output=True,
            timeout=20,
        )
        out = tmp_path / "play.ts"  # type: ignore[operator]
        out.write_bytes(play.stdout)
        assert len(play.stdout) > 50_000 and len(play.stdout) % 188 == 0
        got = probe(out)
        assert {s.codec_type: s.codec_name for s in got.streams} == {"video": "h264", "audio": "aac"}
        assert got.video is not None and got.video.keyframes >= 1
    finally:
        for p in (slt, ff):
            p.kill()
            p.wait()


def _refused(url: str) -> bool:
    """ffprobe cannot open ``url`` (the handshake was refused)."""
    r = subprocess.run(["ffprobe", "-v", "error", "-i", url], capture_output=True, timeout=30)
    return r.returncode != 0


def test_wrong_passphrase_and_bad_streamids_are_refused(srt_srs: SrsProcess, clients: Clients) -> None:
    stream = _name()
    clients.add(ffmpeg_srt_publish(srt_url(srt_srs, f"#!::r=live/{stream},m=publish"), loops=-1))
    srt_srs.wait_log(f"SRT publish ip=127.0.0.1 url=/live/{stream}", 10)
    sid = f"#!::r=live/{stream},m=request"
    assert _refused(srt_url(srt_srs, sid, passphrase="not-the-right-one"))
    assert _refused(srt_url(srt_srs, sid, passphrase=""))
    assert _refused(srt_url(srt_srs, f"#!::r=live/{stream},m=bogus"))  # bad mode
    assert _refused(srt_url(srt_srs, "#!::m=request"))  # no resource
    assert _refused(srt_url(srt_srs, f"#!::h=nosrt.test,r=live/{stream}"))  # vhost srt off
    # the right passphrase still plays
    got = probe(srt_url(srt_srs, sid), packets=30, timeout_s=30)
    assert {s.codec_type for s in got.streams} == {"video", "audio"}


class _RelayThread:
    """A LossyRelay on its own event loop (the test itself is synchronous)."""

    def __init__(self, server_port: int, loss: float) -> None:
        self.loop = asyncio.new_event_loop()
        self.relay = LossyRelay(
            ("127.0.0.1", server_port), up=Impairment(loss=loss), down=Impairment(loss=loss), seed=11
        )
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.relay.start(), self.loop).result(5)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.relay.close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_five_percent_loss_each_way_stays_decodable(srt_srs: SrsProcess, clients: Clients) -> None:
    stream = _name()
    relay = _RelayThread(srt_srs.srt_port, 0.05)  # type: ignore[attr-defined]
    try:
        url = srt_url(srt_srs, f"#!::r=live/{stream},m=publish", port=relay.port)
        clients.add(ffmpeg_srt_publish(url, seconds=9))
        srt_srs.wait_log(f"SRT publish ip=127.0.0.1 url=/live/{stream}", 10)
        rtmp = f"rtmp://127.0.0.1:{srt_srs.ports.rtmp}/live/{stream}"
        with ThreadPoolExecutor(1) as pool:
            dec = pool.submit(
                subprocess.run,
                [
                    "ffmpeg",
                    "-nostdin",
                    "-v",
                    "error",
                    "-rw_timeout",
                    "5000000",
                    "-i",
                    rtmp,
                    "-t",
                    "5",
                    "-f",
                    "null",
                    "-",
                ],
                capture_output=True,
                timeout=40,
            ).result()
        errors = dec.stderr.decode(errors="replace")
        assert "error while decoding" not in errors and "corrupt" not in errors.lower(), errors
        assert relay.relay.stats["up"]["dropped"] > 0  # the loss really happened
    finally:
        relay.close()
    srt_srs.wait_log(f"SRT unpublish url=/live/{stream}", 20)


def test_a_silent_peer_is_dropped_after_peer_idle_timeout(srt_srs: SrsProcess, clients: Clients) -> None:
    stream = _name()
    player = clients.add(
        subprocess.Popen(
            ["srt-live-transmit", "-q", srt_url(srt_srs, f"#!::r=live/{stream},m=request"), "file://con"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    srt_srs.wait_log(f"SRT play ip=127.0.0.1 url=/live/{stream}", 10)
    player.send_signal(signal.SIGSTOP)  # no more ACKs, keepalives or anything: silent
    try:
        srt_srs.wait_log(f"SRT stop play ip=127.0.0.1 url=/live/{stream} (peer closed)", 15)
    finally:
        player.send_signal(signal.SIGCONT)
