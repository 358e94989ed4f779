"""HTTPS with real clients against the real server process (the CLI, on uvloop):
ffprobe plays HTTP-FLV over HTTPS, curl reads the API over HTTPS (verifying the certificate),
and SIGHUP moves the HTTPS API port."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.checks import EXACT_ISH, assert_plays_like
from support.media import clip
from support.net import free_ports, wait_port
from support.server import Ports, SrsProcess
from support.tls import self_signed
from support.tools import Clients, probe, publish_file

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


def conf(p: Ports, https: int, apis: int) -> str:
    # key/cert left out: SRS's defaults ./conf/server.key and ./conf/server.crt (in the workdir).
    return f"""
listen {p.rtmp};
daemon off;
srs_log_tank console;
pid ./objs/srs.pid;
http_api {{
    enabled on;
    listen {p.api};
    https {{ enabled on; listen {apis}; }}
}}
http_server {{
    enabled on;
    listen {p.http};
    dir ./objs/nginx/html;
    https {{ enabled on; listen {https}; }}
}}
vhost __defaultVhost__ {{
    http_remux {{ enabled on; mount [vhost]/[app]/[stream].flv; }}
}}
"""


def start(tmp_path: Path) -> tuple[SrsProcess, int, int, Path]:
    p = Ports()
    https, apis = free_ports(2)
    workdir = tmp_path / "srs"
    cert, _ = self_signed(workdir / "conf", "server")
    srv = SrsProcess(workdir, conf(p, https, apis), p).start()
    wait_port(https)
    wait_port(apis)
    return srv, https, apis, cert


def curl_json(url: str, *args: str) -> dict[str, object]:
    out = subprocess.run(
        ["curl", "-sS", "--max-time", "10", *args, url], capture_output=True, timeout=20, check=True
    )
    body: dict[str, object] = json.loads(out.stdout)
    return body


def test_ffprobe_plays_http_flv_over_https(
    tmp_path: Path, stream_name: str, clients: Clients, bg: ThreadPoolExecutor
) -> None:
    srv, https, _, _ = start(tmp_path)
    try:
        path = clip("avatar.flv")
        src = probe(path)
        url = f"https://127.0.0.1:{https}/live/{stream_name}.flv"
        # ffmpeg's TLS does not verify by default; say so, so a newer ffmpeg behaves the same.
        got_f = bg.submit(probe, url, extra=["-tls_verify", "0"], rw_timeout_s=5, timeout_s=45)
        srv.wait_players(stream_name, 1)
        pub = clients.add(publish_file(srv.rtmp_url(stream_name), path))
        _, err = pub.communicate(timeout=45)
        assert pub.returncode == 0, err.decode(errors="replace")
        got = got_f.result(timeout=30)
        assert got.format_name == "flv"
        assert got.video is not None and (got.video.codec_name, got.video.width) == ("h264", src.video.width)  # type: ignore[union-attr]
        assert got.audio is not None and got.audio.codec_name == "aac"
        assert_plays_like(got, src, what="ffprobe HTTP-FLV over HTTPS", tol=EXACT_ISH)
    finally:
        srv.stop()


def test_curl_reads_the_api_over_https_and_sighup_moves_it(tmp_path: Path) -> None:
    srv, https, apis, cert = start(tmp_path)
    try:
        # curl verifies the certificate chain (our self-signed cert as the CA) and the IP SAN.
        body = curl_json(f"https://127.0.0.1:{apis}/api/v1/versions", "--cacert", str(cert))
        assert body["code"] == 0 and body["data"] == {
            "major": 7,
            "minor": 0,
            "revision": 18,
            "version": "7.0.18",
        }
        plain = curl_json(f"http://127.0.0.1:{srv.ports.api}/api/v1/versions")
        assert plain["server"] == body["server"]

        (moved,) = free_ports(1)
        srv.conf_path.write_text(conf(srv.ports, https, moved))
        srv.send(signal.SIGHUP)
        wait_port(moved)
        body = curl_json(f"https://127.0.0.1:{moved}/api/v1/versions", "--cacert", str(cert))
        assert body["code"] == 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r = subprocess.run(
                ["curl", "-sk", "--max-time", "2", f"https://127.0.0.1:{apis}/api/v1/versions"]
            )
            if r.returncode != 0:
                break  # the old port is closed
            time.sleep(0.1)
        else:
            pytest.fail("the old HTTPS API port still answers after the reload")
        assert "https_api +" in srv.wait_log("reload ok")
    finally:
        srv.stop()
