"""RTSP (SRS 7.0.47+ ``rtsp_server``) with real clients: ffprobe and GStreamer play RTMP streams over
RTSP (TCP interleaved and UDP; H.264 + AAC, and H.265), DESCRIBE before publish answers 404 as SRS,
and ffmpeg publishes over RTSP (TCP and UDP) to RTMP, RTSP and WHEP players.
One server for the module (every test uses its own stream names)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from support.media import clip
from support.net import free_port
from support.pyav import PyavPublisher
from support.rtc import whep_play
from support.server import Ports, SrsProcess, render_conf
from support.tools import Clients, probe, publish_file

pytestmark = pytest.mark.interop

VHOST = """
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
    rtsp { enabled on; rtmp_to_rtsp on; }
    rtc { enabled on; rtmp_to_rtc on; }
"""
RTC_SERVER = "rtc_server { enabled on; listen 0; candidate 127.0.0.1; }"


@pytest.fixture(scope="module")
def rtsp_srs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SrsProcess]:
    ports = Ports()
    rtsp_port = free_port()
    srv = SrsProcess(
        tmp_path_factory.mktemp("rtsp"),
        render_conf(
            ports, vhost_body=VHOST, extra=f"rtsp_server {{ enabled on; listen {rtsp_port}; }} {RTC_SERVER}"
        ),
        ports,
    )
    srv.rtsp_port = rtsp_port  # type: ignore[attr-defined]
    srv.start()
    srv.wait_log("RTSP server listen", 10)
    yield srv
    code = srv.stop()
    print(f"----- server log (exit {code}) -----\n{srv.log()[-20000:]}")


def _name() -> str:
    return f"s{uuid.uuid4().hex[:8]}"


def _url(srv: SrsProcess, stream: str) -> str:
    return f"rtsp://127.0.0.1:{srv.rtsp_port}/live/{stream}"  # type: ignore[attr-defined]


def _publish(srv: SrsProcess, stream: str, clients: Clients) -> None:
    clients.add(publish_file(f"rtmp://127.0.0.1:{srv.ports.rtmp}/live/{stream}", clip("bbb.flv"), loops=-1))
    srv.wait_log(f"RTMP publish ip=127.0.0.1 url=/live/{stream}", 10)


def _check(result: object) -> None:
    v, a = result.video, result.audio  # type: ignore[attr-defined]
    assert v is not None and v.codec_name == "h264" and (v.width, v.height) == (640, 360)
    assert a is not None and a.codec_name == "aac" and a.sample_rate > 0
    assert v.frames >= 50 and a.frames >= 50, (v.frames, a.frames)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffprobe_plays_rtmp_stream_over_rtsp(rtsp_srs: SrsProcess, clients: Clients, transport: str) -> None:
    stream = _name()
    _publish(rtsp_srs, stream, clients)
    r = probe(_url(rtsp_srs, stream), extra=["-rtsp_transport", transport], packets=200, timeout_s=60)
    _check(r)
    rtsp_srs.wait_log("RTSP play stop", 10)


@pytest.mark.parametrize("protocols", ["tcp", "udp"])
def test_gstreamer_rtspsrc_decodes(rtsp_srs: SrsProcess, clients: Clients, protocols: str) -> None:
    """rtspsrc links the pad its depayloader takes: 50 decoded 640x360 pictures, then 50 decoded
    AAC buffers, end each pipeline (num-buffers -> EOS)."""
    stream = _name()
    _publish(rtsp_srs, stream, clients)
    src = f"rtspsrc location={_url(rtsp_srs, stream)} protocols={protocols}"
    for branch in (
        "rtph264depay ! h264parse ! avdec_h264 ! video/x-raw,width=640,height=360",
        "rtpmp4gdepay ! aacparse ! avdec_aac",
    ):
        pipeline = f"{src} ! {branch} ! fakesink num-buffers=50 sync=false"
        out = subprocess.run(
            ["gst-launch-1.0", *pipeline.split()], capture_output=True, timeout=60, text=True
        )
        assert out.returncode == 0 and "Got EOS" in out.stdout, (out.stdout + out.stderr)[-3000:]


def _rtsp(sock: socket.socket, text: str) -> str:
    sock.sendall(text.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def test_describe_before_publish_is_404(rtsp_srs: SrsProcess) -> None:
    url = _url(rtsp_srs, _name())
    with socket.create_connection(("127.0.0.1", rtsp_srs.rtsp_port), timeout=10) as s:  # type: ignore[attr-defined]
        answer = _rtsp(s, f"OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        assert answer.startswith("RTSP/1.0 200") and "CSeq: 1" in answer and "DESCRIBE" in answer
        answer = _rtsp(s, f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n")
        assert answer.startswith("RTSP/1.0 404") and "CSeq: 2" in answer
        answer = _rtsp(s, f"PLAY {url} RTSP/1.0\r\nCSeq: 3\r\n\r\n")
        assert answer.startswith("RTSP/1.0 455")
    r = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", url], capture_output=True, timeout=30, text=True
    )
    assert r.returncode != 0 and "404" in r.stderr


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffmpeg_publishes_over_rtsp(rtsp_srs: SrsProcess, clients: Clients, transport: str) -> None:
    stream = _name()
    clients.add(
        subprocess.Popen(
            [
                "ffmpeg",
                "-v",
                "error",
                "-re",
                "-stream_loop",
                "-1",
                "-i",
                str(clip("bbb.flv")),
                "-c",
                "copy",
                "-f",
                "rtsp",
                "-rtsp_transport",
                transport,
                _url(rtsp_srs, stream),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    rtsp_srs.wait_log(f"RTSP publish ip=127.0.0.1 url=/live/{stream}", 15)
    over_rtmp = probe(rtsp_srs.rtmp_url(stream), packets=200, timeout_s=60)
    _check(over_rtmp)
    assert over_rtmp.video is not None and over_rtmp.video.monotonic()  # decode times from RTP's pts
    _check(probe(_url(rtsp_srs, stream), extra=["-rtsp_transport", "tcp"], packets=200, timeout_s=60))


def test_hevc_over_rtsp(rtsp_srs: SrsProcess) -> None:
    """Enhanced RTMP hvc1 (published by PyAV in real time) plays over RTSP as H.265 (RFC 7798)."""
    stream = _name()
    publisher = PyavPublisher(rtsp_srs.rtmp_url(stream), clip("hevc.flv"))
    publisher.start()
    try:
        rtsp_srs.wait_log(f"RTMP publish ip=127.0.0.1 url=/live/{stream}", 10)
        r = probe(_url(rtsp_srs, stream), extra=["-rtsp_transport", "tcp"], packets=120, timeout_s=60)
        assert r.video is not None and (r.video.codec_name, r.video.width, r.video.height) == (
            "hevc",
            640,
            360,
        )
        assert r.audio is not None and r.audio.codec_name == "aac"
        assert r.video.frames >= 30 and r.audio.frames >= 30, (r.video.frames, r.audio.frames)
    finally:
        publisher.stop_event.set()
        publisher.join(10)


def test_rtsp_publish_plays_over_webrtc(rtsp_srs: SrsProcess, clients: Clients) -> None:
    """An RTSP publisher's H.264 + AAC reach a WHEP player (re-packetized, AAC -> Opus)."""
    stream = _name()
    clients.add(
        subprocess.Popen(
            ["ffmpeg", "-v", "error", "-re", "-stream_loop", "-1", "-i", str(clip("bbb.flv")), "-c", "copy",
             "-f", "rtsp", "-rtsp_transport", "tcp", _url(rtsp_srs, stream)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    )  # fmt: skip
    rtsp_srs.wait_log(f"RTSP publish ip=127.0.0.1 url=/live/{stream}", 15)
    url = f"http://127.0.0.1:{rtsp_srs.ports.api}/rtc/v1/whep/?app=live&stream={stream}"
    got = asyncio.run(whep_play(url, 15, until_frames=50, until_audio_frames=50))
    assert got.connected, got.states
    assert got.video_frames >= 50 and set(got.video_sizes) == {(640, 360)}, got
    assert got.audio_frames >= 50, got
