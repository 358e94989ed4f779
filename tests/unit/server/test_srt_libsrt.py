"""The libsrt binding and the SRT server's decisions that need no peer: sockaddr layout, the
srt_server options as libsrt reads them back, the listen callback's streamid/vhost check, and the
one log line when libsrt is missing."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest

from srs.config import parse_text
from srs.server.srt import libsrt, server
from srs.server.srt.libsrt import SRT_REJX_BAD_REQUEST, SRT_REJX_FORBIDDEN, parse_sockaddr, sockaddr


@pytest.mark.parametrize(
    ("host", "port"), [("127.0.0.1", 10080), ("0.0.0.0", 0), ("::1", 443), ("fe80::1", 1)]
)
def test_sockaddr_round_trip(host: str, port: int) -> None:
    assert parse_sockaddr(sockaddr(host, port)) == (host, port)


def test_v4_mapped_peer_is_plain_v4() -> None:
    assert parse_sockaddr(sockaddr("::ffff:10.0.0.1", 5)) == ("10.0.0.1", 5)


def test_short_sockaddr() -> None:
    assert parse_sockaddr(b"\x02\x00") == ("", 0)


def test_options_are_applied_as_configured() -> None:
    srt = libsrt.load()
    assert srt is not None, "libsrt1.5-openssl is a system dependency (scripts/install-system-deps.sh)"
    cfg = parse_text(
        "listen 1935; srt_server { enabled on; latency 300; recvlatency 250; peerlatency 80; "
        "connect_timeout 4000; peer_idle_timeout 7000; payloadsize 1316; tlpktdrop off; "
        "passphrase abcdefghij; pbkeylen 32; maxbw 1000000; }"
    ).srt_server
    s = srt.create_socket()
    try:
        server.apply_options(srt, s, cfg)
        assert srt.get_int(s, libsrt.SRTO_RCVLATENCY) == 250
        assert srt.get_int(s, libsrt.SRTO_PEERLATENCY) == 80
        assert srt.get_int(s, libsrt.SRTO_PEERIDLETIMEO) == 7000
        assert srt.get_int(s, libsrt.SRTO_PAYLOADSIZE) == 1316
        assert srt.get_int(s, libsrt.SRTO_PBKEYLEN) == 32
        assert srt.get_int(s, libsrt.SRTO_MAXBW) == 1_000_000
        assert srt.get_int(s, libsrt.SRTO_TLPKTDROP) & 0xFF == 0
    finally:
        srt.close(s)


def _server(conf: str) -> server.SrtServer:
    srv = server.SrtServer.__new__(server.SrtServer)
    cfg = parse_text(conf)
    srv.ctx = SimpleNamespace(config=cfg)  # type: ignore[assignment]
    srv.config = cfg.srt_server
    return srv


def test_listen_callback_decisions() -> None:
    srv = _server(
        "listen 1935; srt_server { enabled on; default_app app1; }"
        " vhost __defaultVhost__ { srt { enabled on; } } vhost off.com { srt { enabled off; } }"
        " vhost dis.com { enabled off; srt { enabled on; } }"
    )
    assert srv.check_streamid("#!::r=live/x,m=publish") is None
    assert srv.check_streamid("x") is None
    assert srv.check_streamid("#!::h=unknown.com,r=live/x") is None  # the default vhost serves it
    assert srv.check_streamid("#!::h=off.com,r=live/x") == SRT_REJX_FORBIDDEN
    assert srv.check_streamid("#!::h=dis.com,r=live/x") == SRT_REJX_FORBIDDEN
    assert srv.check_streamid("#!::r=live/x,m=nope") == SRT_REJX_BAD_REQUEST
    assert srv.check_streamid("#!::m=publish") == SRT_REJX_BAD_REQUEST


def test_srt_off_by_default_on_a_vhost() -> None:
    srv = _server("listen 1935; srt_server { enabled on; } vhost __defaultVhost__ { }")
    assert srv.check_streamid("#!::r=live/x,m=publish") == SRT_REJX_FORBIDDEN


def test_missing_library_is_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(libsrt, "load", lambda: None)
    ctx = SimpleNamespace(config=parse_text("listen 1935; srt_server { enabled on; }"))
    with caplog.at_level(logging.WARNING, logger="srs"):
        assert server.start_srt(ctx) is None  # type: ignore[arg-type]
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["SRT is off: libsrt not found (apt-get install libsrt1.5-openssl)"]


def test_a_taken_port_is_one_error_line(caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        ctx = SimpleNamespace(config=parse_text("listen 1935; srt_server { enabled on; listen 0; }"))
        first = server.start_srt(ctx)  # type: ignore[arg-type]
        assert first is not None and first.port > 0
        try:
            taken = parse_text(f"listen 1935; srt_server {{ enabled on; listen {first.port}; }}")
            with caplog.at_level(logging.ERROR, logger="srs"):
                assert server.start_srt(SimpleNamespace(config=taken)) is None  # type: ignore[arg-type]
            assert any("SRT is off: cannot listen" in r.getMessage() for r in caplog.records)
        finally:
            await first.stop()

    asyncio.run(run())
