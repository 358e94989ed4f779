"""HTTPS for the API (``http_api.https``) and for streaming (``http_server.https``): the server
presents the configured certificate, the API and HTTP-FLV work over TLS, SRS's port sharing,
and a missing key/cert is a clear error naming the file."""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from srs import SIGNATURE
from srs.app import App
from srs.config import parse_text
from srs.format import flv
from support.flv import iter_tags
from support.media import clip
from support.net import free_ports
from support.rtmp_client import RtmpClient, flv_tags
from support.tls import client_context, fingerprint, self_signed

AV = [t for t in flv_tags(clip("bbb.flv")) if t.tag_type != flv.TagType.SCRIPT]


@dataclass
class TlsPorts:
    rtmp: int
    http: int
    https: int
    api: int
    apis: int

    @classmethod
    def new(cls) -> TlsPorts:
        return cls(*free_ports(5))


def https_conf(
    p: TlsPorts,
    cert: Path,
    key: Path,
    workdir: Path,
    *,
    api_https: bool = True,
    server_https: bool = True,
    shared: bool = False,
) -> str:
    api_listen, apis_listen = (p.http, p.https) if shared else (p.api, p.apis)
    return f"""
listen {p.rtmp};
daemon off;
srs_log_tank console;
http_api {{
    enabled on;
    listen {api_listen};
    https {{
        enabled {"on" if api_https else "off"};
        listen {apis_listen};
        key {key};
        cert {cert};
    }}
}}
http_server {{
    enabled on;
    listen {p.http};
    dir {workdir / "html"};
    https {{
        enabled {"on" if server_https else "off"};
        listen {p.https};
        key {key};
        cert {cert};
    }}
}}
vhost __defaultVhost__ {{
    http_remux {{
        enabled on;
        mount [vhost]/[app]/[stream].flv;
    }}
}}
"""


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


async def presented_cert(port: int) -> bytes:
    """The DER certificate the server presents on ``port`` (no verification)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    sslobj = writer.get_extra_info("ssl_object")
    der = sslobj.getpeercert(binary_form=True)
    writer.close()
    return bytes(der)


async def test_https_api_and_streaming_ports(tmp_path: Path, pem: tuple[Path, Path]) -> None:
    cert, key = pem
    p = TlsPorts.new()
    app = App(parse_text(https_conf(p, cert, key, tmp_path)))
    await app.start()
    try:
        assert app.https_api is not None and app.https_api.port == p.apis
        assert app.https_server is not None and app.https_server.port == p.https
        for port in (p.apis, p.https):
            assert await presented_cert(port) == fingerprint(cert)
        trust = client_context(cert)  # verifies our cert, host 127.0.0.1 (in its SAN)
        async with aiohttp.ClientSession() as http:
            r = await http.get(f"https://127.0.0.1:{p.apis}/api/v1/versions", ssl=trust)
            assert r.status == 200 and r.headers["Server"] == SIGNATURE
            body = await r.json()
            assert body["code"] == 0 and body["data"]["version"] == "7.0.18"
            # The HTTPS API port is the whole API mux (its "/" index too), as the HTTP one.
            r = await http.get(f"https://127.0.0.1:{p.apis}/", ssl=False)
            assert (await r.json())["urls"]["api"] == "the api root"
            # The HTTPS streaming port: /api/v1/versions (SRS's readiness probe), not the rest.
            r = await http.get(f"https://127.0.0.1:{p.https}/api/v1/versions", ssl=False)
            assert (await r.json())["code"] == 0
            r = await http.get(f"https://127.0.0.1:{p.https}/api/v1/summaries", ssl=False)
            assert r.status == 404
            # The plain ports still answer plain HTTP.
            r = await http.get(f"http://127.0.0.1:{p.api}/api/v1/versions")
            assert (await r.json())["code"] == 0
    finally:
        await app.stop(graceful=False)


async def flv_over_https(tmp_path: Path, cert: Path, key: Path) -> None:
    """Publish over RTMP, play HTTP-FLV over HTTPS: the FLV is the same tags, in order."""
    p = TlsPorts.new()
    app = App(parse_text(https_conf(p, cert, key, tmp_path, api_https=False)))
    await app.start()
    pub = await RtmpClient.open(p.rtmp)
    try:
        await pub.publish("tls")
        send = asyncio.get_running_loop().create_task(pub.send_tags(AV, realtime=True, speed=8))
        async with aiohttp.ClientSession() as http:
            r = await http.get(f"https://127.0.0.1:{p.https}/live/tls.flv", ssl=client_context(cert))
            assert r.status == 200 and r.headers["Content-Type"] == "video/x-flv"
            data = b""
            while len(data) < 300_000:
                chunk = await asyncio.wait_for(r.content.read(65536), 5)
                assert chunk, "the response ended early"
                data += chunk
            r.close()
        send.cancel()
        tags = list(iter_tags(data))
        video = [t for t in tags if t.type == flv.TagType.VIDEO]
        audio = [t for t in tags if t.type == flv.TagType.AUDIO]
        assert data[:3] == b"FLV" and data[4] == 5  # audio + video flags
        assert video[0].is_sequence_header and video[1].is_keyframe
        assert len(video) > 20 and len(audio) > 20
        # The same tag bytes as the publisher sent (FLV over TLS is the same FLV).
        sent = {t.body for t in AV}
        assert all(t.data in sent for t in video[1:20])
        ts = [t.timestamp_ms for t in video]
        assert ts == sorted(ts)
    finally:
        await pub.close()
        await app.stop(graceful=False)


async def test_http_flv_over_https(tmp_path: Path, pem: tuple[Path, Path]) -> None:
    await flv_over_https(tmp_path, *pem)


def test_http_flv_over_https_on_uvloop(tmp_path: Path, pem: tuple[Path, Path]) -> None:
    """uvloop has its own TLS transport: the HTTP-FLV sink's writelines/flow control work on it."""
    uvloop = pytest.importorskip("uvloop")
    uvloop.run(flv_over_https(tmp_path, *pem))


async def test_shared_port_serves_api_over_https_server(tmp_path: Path, pem: tuple[Path, Path]) -> None:
    """SRS: API listen == HTTP server listen (and so HTTPS == HTTPS) -> one HTTPS port for both."""
    cert, key = pem
    p = TlsPorts.new()
    cfg = parse_text(https_conf(p, cert, key, tmp_path, shared=True))
    assert cfg.http_api.https.listen == cfg.http_server.https.listen
    app = App(cfg)
    await app.start()
    try:
        assert app.http_api is None and app.https_api is None
        assert app.https_server is not None and app.https_server.port == p.https
        async with aiohttp.ClientSession() as http:
            r = await http.get(f"https://127.0.0.1:{p.https}/api/v1/summaries", ssl=False)
            body = await r.json()
            assert body["code"] == 0 and "self" in body["data"]
            for port in (p.api, p.apis):  # nothing listens on the unshared ports
                with pytest.raises(aiohttp.ClientConnectionError):
                    await http.get(f"http://127.0.0.1:{port}/api/v1/versions")
    finally:
        await app.stop(graceful=False)


async def test_shared_api_without_https_server_has_no_https_api(
    tmp_path: Path, pem: tuple[Path, Path]
) -> None:
    cert, key = pem
    p = TlsPorts.new()
    app = App(parse_text(https_conf(p, cert, key, tmp_path, shared=True, server_https=False)))
    await app.start()
    try:
        assert app.https_api is None and app.https_server is None
    finally:
        await app.stop(graceful=False)


@pytest.mark.parametrize("missing", ["key", "cert"])
async def test_missing_key_or_cert_is_a_startup_error_naming_the_file(
    tmp_path: Path, pem: tuple[Path, Path], missing: str
) -> None:
    cert, key = pem
    gone = tmp_path / f"nope.{missing}"
    p = TlsPorts.new()
    conf = https_conf(
        p,
        gone if missing == "cert" else cert,
        gone if missing == "key" else key,
        tmp_path,
        server_https=False,
    )
    app = App(parse_text(conf))
    with pytest.raises(OSError) as info:
        await app.start()
    await app.stop(graceful=False)
    text = str(info.value)
    assert f"http_api.https.{missing}" in text and str(gone) in text
    assert app.http_listeners == {}  # nothing HTTP was bound before the check


async def test_bad_pem_is_a_startup_error(tmp_path: Path, pem: tuple[Path, Path]) -> None:
    cert, _ = pem
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    p = TlsPorts.new()
    app = App(parse_text(https_conf(p, cert, bad, tmp_path, api_https=False)))
    with pytest.raises(OSError, match=r"http_server\.https: cannot load cert .* with key .*bad\.key"):
        await app.start()
    await app.stop(graceful=False)


async def test_plain_http_to_the_https_port_gets_no_answer(tmp_path: Path, pem: tuple[Path, Path]) -> None:
    cert, key = pem
    p = TlsPorts.new()
    app = App(parse_text(https_conf(p, cert, key, tmp_path)))
    await app.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", p.apis)
        writer.write(b"GET /api/v1/versions HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert b'"code"' not in data  # a TLS alert at most, never the API
    finally:
        await app.stop(graceful=False)


def stalled_https_player(port: int, path: str) -> ssl.SSLSocket:
    """An HTTPS-FLV player that reads the response head and then stops reading (tiny buffer)."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port))
    raw.settimeout(5)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sock = ctx.wrap_socket(raw)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 200"), head
    return sock


async def test_stalled_https_player_drops_others_unaffected(tmp_path: Path, pem: tuple[Path, Path]) -> None:
    """TLS flow control reaches the live core: a player that stops reading over HTTPS is seen as
    slow (the TLS transport's buffer counts), drops GOPs, and the server's buffer for it stays small."""
    cert, key = pem
    p = TlsPorts.new()
    text = https_conf(p, cert, key, tmp_path, api_https=False)
    text = text.replace("http_remux {", "play { queue_length 2; }\n    http_remux {")
    app = App(parse_text(text))
    await app.start()
    try:
        loop = asyncio.get_running_loop()
        sock = await loop.run_in_executor(None, stalled_https_player, p.https, "/live/slow.flv")
        good = await RtmpClient.open(p.rtmp)
        await good.play("slow")
        pub = await RtmpClient.open(p.rtmp)
        await pub.publish("slow")
        laps = 16
        for lap in range(laps):
            await pub.send_tags([flv.FlvTag(t.tag_type, t.timestamp + lap * 12000, t.body) for t in AV])
            await asyncio.sleep(0.05)
        src = app.ctx.registry.find("/live/slow") if app.ctx else None
        assert src is not None
        slow = [c for c in src.consumers if c.dropped_msgs > 0]
        assert slow, "the stalled HTTPS player never dropped"
        assert src.dropped_msgs >= slow[0].dropped_msgs > 0
        transport = slow[0].sink.transport  # type: ignore[attr-defined]
        assert transport.get_extra_info("ssl_object") is not None
        # Bounded by the sink's high-water mark (1 MiB) plus a batch, not the ~7 MB pushed.
        assert transport.get_write_buffer_size() < 2 << 20
        await good.wait_media(len(AV) * laps, timeout_s=10)
        assert len(good.media) == len(AV) * laps
        sock.close()
        await pub.close()
        await good.close()
    finally:
        await app.stop(graceful=False)
