"""RTSP credentials (ours, ``rtsp_server.auth``) with real clients: ffmpeg publishes with Digest
(``rtsp://user:pass@...`` over TCP), ffprobe plays with credentials over TCP and UDP, GStreamer
rtspsrc plays with ``user-id``/``user-pw``; no or wrong credentials fail with 401; an ``on_play``
hook denying one user (``user=`` in its param) refuses that user's valid credentials.
One server and one RTSP publisher for the module."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from support.media import clip
from support.net import free_port
from support.server import Ports, SrsProcess, render_conf
from support.tools import probe

pytestmark = pytest.mark.interop

AUTH = "auth { enabled on; realm SRS; user admin secret; user cam1 pass1; user bob bobpw; }"
STREAM = "authcam"


class Hooks:
    """An HTTP hook server (thread): records each body, answers 403 to ``on_play`` of ``user=bob``."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                hooks.calls.append(body)
                deny = body.get("action") == "on_play" and "user=bob" in str(body.get("param", ""))
                self.send_response(403 if deny else 200)
                self.send_header("Content-Length", "1")
                self.end_headers()
                self.wfile.write(b"0")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def params(self, action: str) -> list[str]:
        return [str(c.get("param")) for c in self.calls if c.get("action") == action]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    h = Hooks()
    yield h
    h.close()


@pytest.fixture(scope="module")
def auth_srs(tmp_path_factory: pytest.TempPathFactory, hooks: Hooks) -> Iterator[SrsProcess]:
    """The server, and ffmpeg publishing the clip over RTSP/TCP with admin's credentials (Digest)."""
    ports = Ports()
    port = free_port()
    vhost = f"""
        rtsp {{ enabled on; rtmp_to_rtsp on; }}
        http_hooks {{ enabled on; on_publish {hooks.url}; on_play {hooks.url}; }}
    """
    srv = SrsProcess(
        tmp_path_factory.mktemp("rtsp_auth"),
        render_conf(ports, vhost_body=vhost, extra=f"rtsp_server {{ enabled on; listen {port}; {AUTH} }}"),
        ports,
    )
    srv.rtsp_port = port  # type: ignore[attr-defined]
    srv.start()
    srv.wait_log("RTSP server listen", 10)
    pub = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", str(clip("bbb.flv")),
         "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", _url(srv, STREAM, "admin:secret@")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        srv.wait_log(f"RTSP publish ip=127.0.0.1 url=/live/{STREAM}", 15)
        yield srv
    finally:
        pub.kill()
        _, err = pub.communicate(timeout=10)
        code = srv.stop()
        print(f"----- ffmpeg publisher -----\n{err.decode(errors='replace')[-3000:]}")
        print(f"----- server log (exit {code}) -----\n{srv.log()[-20000:]}")


def _url(srv: SrsProcess, stream: str, cred: str = "") -> str:
    return f"rtsp://{cred}127.0.0.1:{srv.rtsp_port}/live/{stream}"  # type: ignore[attr-defined]


def test_ffmpeg_publishes_with_digest(auth_srs: SrsProcess, hooks: Hooks) -> None:
    log = auth_srs.log()
    assert "user=admin authenticated (digest)" in log  # ffmpeg answers the Digest challenge
    assert "ANNOUNCE without credentials: 401 Unauthorized" in log  # after its first try without
    assert "?user=admin" in hooks.params("on_publish")


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffprobe_plays_with_credentials(auth_srs: SrsProcess, hooks: Hooks, transport: str) -> None:
    r = probe(_url(auth_srs, STREAM, "cam1:pass1@"), extra=["-rtsp_transport", transport], packets=150)
    v, a = r.video, r.audio
    assert v is not None and v.codec_name == "h264" and (v.width, v.height) == (640, 360)
    assert a is not None and a.codec_name == "aac"
    assert v.frames >= 40 and a.frames >= 40, (v.frames, a.frames)
    assert "?user=cam1" in hooks.params("on_play")


@pytest.mark.parametrize(
    "cred", ["", "cam1:wrong@", "nobody:pass1@"], ids=["none", "wrong-password", "unknown"]
)
def test_ffprobe_without_valid_credentials_fails(auth_srs: SrsProcess, cred: str) -> None:
    before = auth_srs.count_log("401 Unauthorized")
    r = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", _url(auth_srs, STREAM, cred)],
        capture_output=True, timeout=30, text=True,
    )  # fmt: skip
    assert r.returncode != 0 and "401" in r.stderr, r.stderr
    assert auth_srs.count_log("401 Unauthorized") > before
    if cred:
        assert "DESCRIBE refused: " in auth_srs.log()


def test_hook_denies_one_user(auth_srs: SrsProcess, hooks: Hooks) -> None:
    """bob's credentials are valid (authenticated), yet the on_play hook refuses user=bob: 401."""
    r = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", _url(auth_srs, STREAM, "bob:bobpw@")],
        capture_output=True, timeout=30, text=True,
    )  # fmt: skip
    assert r.returncode != 0 and "401" in r.stderr, r.stderr
    assert "user=bob authenticated" in auth_srs.log()
    assert "?user=bob" in hooks.params("on_play")
    assert "RTSP client ip=127.0.0.1 refused by the hook" in auth_srs.log()


def test_gstreamer_rtspsrc_with_credentials(auth_srs: SrsProcess) -> None:
    src = f"rtspsrc location={_url(auth_srs, STREAM)} user-id=cam1 user-pw=pass1 protocols=tcp"
    pipeline = f"{src} ! rtph264depay ! h264parse ! avdec_h264 ! video/x-raw,width=640,height=360"
    pipeline += " ! fakesink num-buffers=50 sync=false"
    out = subprocess.run(["gst-launch-1.0", *pipeline.split()], capture_output=True, timeout=60, text=True)
    assert out.returncode == 0 and "Got EOS" in out.stdout, (out.stdout + out.stderr)[-3000:]
    # with a wrong password rtspsrc tries again and again: the server closes after 5 refusals
    before = auth_srs.count_log("refused credentials")
    bad = f"rtspsrc location={_url(auth_srs, STREAM)} user-id=cam1 user-pw=nope protocols=tcp ! fakesink"
    out = subprocess.run(["gst-launch-1.0", *bad.split()], capture_output=True, timeout=60, text=True)
    assert out.returncode != 0, (out.stdout + out.stderr)[-3000:]
    assert auth_srs.count_log("refused credentials") == before + 1
