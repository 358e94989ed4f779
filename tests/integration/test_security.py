"""vhost.security (allow/deny by IP, all, CIDR) and vhost.refer through real clients."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from srs.config import parse_text
from support.rtmp_client import RtmpClient
from support.server import DEFAULT_VHOST_BODY, render_conf

from .conftest import Running, start_app
from .test_hooks_receiver import Answer, Receiver, hooks_block, open_rtmp, raw_get


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def srs_log() -> Iterator[Lines]:
    h = Lines()
    lg = logging.getLogger("srs")
    lg.addHandler(h)
    try:
        yield h
    finally:
        lg.removeHandler(h)


def security(*rules: str) -> str:
    body = "".join(f"        {r};\n" for r in rules)
    return f"    security {{\n        enabled on;\n{body}    }}\n"


async def start(tmp_path: Path, body: str, extra: str = "trusted_proxies 127.0.0.1;") -> Running:
    """HTTP players come "from" other addresses through X-Forwarded-For, which the server believes
    only because the test's proxy (127.0.0.1) is trusted."""
    return await start_app(tmp_path, vhost_body=DEFAULT_VHOST_BODY + body, extra=extra)


async def publish_ok(r: Running, stream: str) -> bool:
    c = await RtmpClient.open(r.ports.rtmp)
    try:
        c.session.publish(stream)
        c._flush()
        done = asyncio.ensure_future(c.wait_status("NetStream.Publish.Start", 3))
        closed = asyncio.ensure_future(c.closed.wait())
        await asyncio.wait([done, closed], return_when=asyncio.FIRST_COMPLETED, timeout=5)
        ok = done.done() and not done.cancelled() and done.exception() is None
        for f in (done, closed):
            f.cancel()
        await asyncio.gather(done, closed, return_exceptions=True)
        return ok
    finally:
        await c.close()


async def rtmp_play_ok(r: Running, stream: str) -> bool:
    c = await RtmpClient.open(r.ports.rtmp)
    try:
        c.session.play(stream)
        c._flush()
        try:
            await asyncio.wait_for(c.closed.wait(), 0.5)
        except TimeoutError:
            return True
        return False
    finally:
        await c.close()


async def flv_play_ok(r: Running, stream: str, ip: str | None = None) -> bool:
    """A rejected HTTP player gets no response at all: the connection is just closed."""
    head = await raw_get(r.ports.http, f"/live/{stream}.flv", {"X-Forwarded-For": ip} if ip else None)
    assert head == b"" or head.startswith(b"HTTP/1.1 200"), head
    return head != b""


def codes(log: Lines) -> list[int]:
    out = []
    for line in log.lines:
        for code in (1052, 1053, 1054, 2015):
            if f"(code={code})" in line:
                out.append(code)
    return out


async def test_exact_ip_and_all(tmp_path: Path, srs_log: Lines) -> None:
    r = await start(tmp_path, security("allow play all", "allow publish all", "deny publish 127.0.0.1"))
    try:
        assert not await publish_ok(r, "s")
        assert codes(srs_log) == [1053]
        assert r.ctx.registry.find("/live/s") is None
        assert await rtmp_play_ok(r, "s")
        assert await flv_play_ok(r, "s")
        assert codes(srs_log) == [1053]
    finally:
        await r.app.stop(graceful=False)


async def test_allow_exact_ip_only(tmp_path: Path, srs_log: Lines) -> None:
    r = await start(tmp_path, security("allow publish 127.0.0.1", "allow play 127.0.0.2"))
    try:
        assert await publish_ok(r, "s")
        assert not await rtmp_play_ok(r, "s")  # 127.0.0.1 is not allowed to play
        assert codes(srs_log) == [1054]
        assert await flv_play_ok(r, "s", ip="127.0.0.2")  # from a trusted proxy, X-Forwarded-For counts
        assert not await flv_play_ok(r, "s", ip="127.0.0.3")
        assert codes(srs_log) == [1054, 1054]
    finally:
        await r.app.stop(graceful=False)


async def test_cidr_allow(tmp_path: Path, srs_log: Lines) -> None:
    r = await start(tmp_path, security("allow play 127.0.0.0/8", "allow publish 10.0.0.0/8"))
    try:
        assert await rtmp_play_ok(r, "s")
        assert not await publish_ok(r, "s")  # 127.0.0.1 is not in 10.0.0.0/8
        assert codes(srs_log) == [1054]
        assert await flv_play_ok(r, "s", ip="127.1.2.3")
        assert not await flv_play_ok(r, "s", ip="10.1.2.3")
    finally:
        await r.app.stop(graceful=False)


async def test_cidr_deny(tmp_path: Path, srs_log: Lines) -> None:
    r = await start(tmp_path, security("deny play 10.0.0.0/8", "deny publish 127.0.0.0/8"))
    try:
        assert not await publish_ok(r, "s")
        assert await rtmp_play_ok(r, "s")  # only deny rules: the others are accepted
        assert await flv_play_ok(r, "s", ip="192.168.1.1")
        assert not await flv_play_ok(r, "s", ip="10.200.0.1")
        assert codes(srs_log) == [1053, 1053]
    finally:
        await r.app.stop(graceful=False)


async def test_enabled_without_rules_rejects_everyone(tmp_path: Path, srs_log: Lines) -> None:
    r = await start(tmp_path, security())
    try:
        assert not await publish_ok(r, "s")
        assert not await rtmp_play_ok(r, "s")
        assert not await flv_play_ok(r, "s")
        assert codes(srs_log) == [1054, 1054, 1054]
    finally:
        await r.app.stop(graceful=False)


async def test_security_off_and_disabled_block(tmp_path: Path) -> None:
    body = security("deny publish all", "deny play all").replace("enabled on;", "enabled off;")
    r = await start(tmp_path, body)
    try:
        assert await publish_ok(r, "s")
        assert await rtmp_play_ok(r, "s")
    finally:
        await r.app.stop(graceful=False)


async def test_denied_client_triggers_no_play_or_publish_hook(tmp_path: Path, srs_log: Lines) -> None:
    rx = await Receiver().start()
    rx.answer = lambda call: Answer()
    hooks = hooks_block(**{h: rx.url(f"/{h}") for h in ("on_publish", "on_play", "on_unpublish", "on_stop")})
    r = await start(tmp_path, hooks + security("deny publish all", "deny play all"))
    try:
        assert not await publish_ok(r, "s")
        assert not await rtmp_play_ok(r, "s")
        assert not await flv_play_ok(r, "s")
        await asyncio.sleep(0.2)
        assert rx.calls == []
        assert r.ctx.registry.find("/live/s") is None
        assert codes(srs_log) == [1053, 1053, 1053]
    finally:
        await r.app.stop(graceful=False)
        await rx.stop()


async def test_reload_applies_new_rules_to_new_clients(tmp_path: Path) -> None:
    r = await start(tmp_path, security("allow play all", "allow publish all"))
    try:
        assert await publish_ok(r, "s")
        conf = render_conf(r.ports, vhost_body=DEFAULT_VHOST_BODY + security("deny publish all"))
        assert (await r.app.reload(parse_text(conf.replace("./objs/nginx/html", str(tmp_path))))).ok
        assert not await publish_ok(r, "s")
        assert await rtmp_play_ok(r, "s")
    finally:
        await r.app.stop(graceful=False)


def refer(**lists: str) -> str:
    body = "".join(f"        {k} {v};\n" for k, v in lists.items())
    return f"    refer {{\n        enabled on;\n{body}    }}\n"


async def rtmp_with_page(r: Running, page_url: str, op: str, stream: str = "s") -> bool:
    c = await open_rtmp(r.ports.rtmp, page_url=page_url)
    try:
        if op == "publish":
            c.session.publish(stream)
        else:
            c.session.play(stream)
        c._flush()
        try:
            await asyncio.wait_for(c.closed.wait(), 0.5)
        except TimeoutError:
            return True
        return False
    finally:
        await c.close()


async def test_refer_play_and_publish(tmp_path: Path, srs_log: Lines) -> None:
    r = await start(tmp_path, refer(publish="ossrs.net", play="example.com github.com"))
    try:
        assert await rtmp_with_page(r, "http://www.ossrs.net/a.html", "publish")
        assert not await rtmp_with_page(r, "http://www.example.com/a.html", "publish", "t")
        assert await rtmp_with_page(r, "https://www.example.com:8443/p.html", "play")
        assert await rtmp_with_page(r, "http://github.com/", "play")
        assert not await rtmp_with_page(r, "http://www.ossrs.net/", "play")
        assert not await rtmp_with_page(r, "", "play")
        assert codes(srs_log) == [2015, 2015, 2015]
        assert r.ctx.registry.find("/live/t") is None
        # SRS compat: HTTP players are not refer-checked (SRS's HTTP stream server does not)
        assert await flv_play_ok(r, "s")
    finally:
        await r.app.stop(graceful=False)


async def test_refer_all_at_connect(tmp_path: Path, srs_log: Lines) -> None:
    rx = await Receiver().start()
    rx.answer = lambda call: Answer()
    body = hooks_block(on_connect=rx.url("/c")) + refer(all="ossrs.net")
    r = await start(tmp_path, body)
    try:
        assert await rtmp_with_page(r, "http://ossrs.net/x", "play")
        assert not await rtmp_with_page(r, "http://evil.com/x", "publish")
        assert codes(srs_log) == [2015]
        # refer.all is checked before the on_connect hook: the refused client never reached it
        assert [c.json["pageUrl"] for c in rx.calls] == ["http://ossrs.net/x"]
    finally:
        await r.app.stop(graceful=False)
        await rx.stop()


async def test_refer_disabled(tmp_path: Path) -> None:
    r = await start(tmp_path, refer(play="ossrs.net").replace("enabled on;", "enabled off;"))
    try:
        assert await rtmp_with_page(r, "http://evil.com/", "play")
    finally:
        await r.app.stop(graceful=False)


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(tmp_path: Path, srs_log: Lines) -> None:
    """SRS: an HTTP player's address is the TCP peer; a header it writes cannot get it past a deny."""
    r = await start(tmp_path, security("deny play 127.0.0.1", "allow play all"), extra="")
    try:
        assert not await flv_play_ok(r, "s")
        assert not await flv_play_ok(r, "s", ip="10.9.8.7")  # the spoofed header changes nothing
        assert not await flv_play_ok(r, "s", ip="10.9.8.7, 10.9.8.6")
        assert codes(srs_log) == [1053, 1053, 1053]
    finally:
        await r.app.stop(graceful=False)
    # Trusted, but the client wrote the left entries: only the right-most untrusted hop counts.
    r = await start(tmp_path, security("deny play 127.0.0.1", "deny play 10.9.8.6", "allow play all"))
    try:
        assert await flv_play_ok(r, "s", ip="10.9.8.7")
        assert not await flv_play_ok(r, "s", ip="10.9.8.7, 10.9.8.6")  # 10.9.8.6 is who the proxy saw
    finally:
        await r.app.stop(graceful=False)
