"""HTTP callbacks against a real hook server: payloads, order, success rule, rejections, reload."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from srs import SIGNATURE
from srs.config import parse_text
from srs.format import flv
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags
from support.server import DEFAULT_VHOST_BODY, render_conf

from .conftest import Running, start_app
from .test_hooks_receiver import Answer, Call, Receiver, hooks_block, open_rtmp, raw_get, server_ssl

AV = [t for t in flv_tags(clip("avatar.flv")) if t.tag_type != flv.TagType.SCRIPT]
ALL_HOOKS = ("on_connect", "on_close", "on_publish", "on_unpublish", "on_play", "on_stop")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.stop()


async def start_with_hooks(tmp_path: Path, body: str, **kw: Any) -> Running:
    r = await start_app(tmp_path, vhost_body=DEFAULT_VHOST_BODY + body, **kw)
    r.app.hooks.timeout_s = 3.0
    return r


def cid_of(r: Running, kind: str) -> str:
    found = [cid for cid, c in r.ctx.connections.items() if c.kind == kind]
    assert len(found) == 1, (kind, found)
    return found[0]


def stream_id(r: Running, url: str) -> str:
    """The stats id of a stream (``stream_id`` of the hook bodies)."""
    st = r.app.stats.stream_by_url(url)
    assert st is not None, url
    return str(st.id)


def check_stream_id(r: Running, body: dict[str, Any], url: str, sid: str) -> None:
    assert sid.startswith("vid-")
    assert body.pop("stream_id") == sid


async def flv_get(r: Running, stream: str, headers: dict[str, str] | None = None, query: str = "") -> Any:
    session = aiohttp.ClientSession()
    url = r.flv_url(stream) + (f"?{query}" if query else "")
    resp = await session.get(url, headers=headers or {})
    return session, resp


async def test_full_lifecycle_exact_payloads(tmp_path: Path, receiver: Receiver) -> None:
    urls = {h: receiver.url(f"/api/{h}?from=srs&k=v") for h in ALL_HOOKS}
    # The HTTP-FLV player below comes through a proxy on 127.0.0.1 that the config trusts.
    r = await start_with_hooks(tmp_path, hooks_block(**urls), extra="trusted_proxies 127.0.0.0/8;")
    ident = r.ctx.identity
    base = {"server_id": ident.server_id, "service_id": ident.service_id}
    port = r.ports.rtmp
    tc_url = f"rtmp://127.0.0.1:{port}/live"
    try:
        # publisher
        pub = await open_rtmp(port, page_url="")
        await pub.publish("cam?token=abc")
        pub_cid = cid_of(r, "fmle-publish")
        [connect] = await receiver.wait("on_connect")
        [publish] = await receiver.wait("on_publish")
        assert connect.json == {
            **base,
            "action": "on_connect",
            "client_id": pub_cid,
            "ip": "127.0.0.1",
            "vhost": "__defaultVhost__",
            "app": "live",
            "stream": "cam",
            "param": "?token=abc",
            "tcUrl": tc_url,
            "pageUrl": "",
        }
        sid = stream_id(r, "/live/cam")
        body = publish.json
        check_stream_id(r, body, "/live/cam", sid)
        assert body == {
            **base,
            "action": "on_publish",
            "client_id": pub_cid,
            "ip": "127.0.0.1",
            "vhost": "__defaultVhost__",
            "app": "live",
            "tcUrl": tc_url,
            "stream": "cam",
            "param": "?token=abc",
            "stream_url": "/live/cam",
        }
        # transport: POST, SRS's headers, the URL's query kept
        for call in (connect, publish):
            assert call.method == "POST"
            assert call.path == f"/api/{call.action}"
            assert call.query == "from=srs&k=v"
            assert call.headers["User-Agent"] == SIGNATURE == "SRS/7.0.18(Hang)"
            assert call.headers["Content-Type"] == "application/json"
            assert int(call.headers["Content-Length"]) == len(call.body)
        await pub.send_tags(AV[:60])

        # RTMP player with a pageUrl
        player = await open_rtmp(port, page_url="http://www.example.com/p.html")
        await player.play("cam")
        play_cid = cid_of(r, "rtmp-play")
        await receiver.wait("on_connect", 2)
        [play] = await receiver.wait("on_play")
        body = play.json
        check_stream_id(r, body, "/live/cam", sid)
        assert body == {
            **base,
            "action": "on_play",
            "client_id": play_cid,
            "ip": "127.0.0.1",
            "vhost": "__defaultVhost__",
            "app": "live",
            "stream": "cam",
            "tcUrl": tc_url,
            "param": "",
            "pageUrl": "http://www.example.com/p.html",
            "stream_url": "/live/cam",
        }
        assert receiver.actions("on_connect")[1].json["pageUrl"] == "http://www.example.com/p.html"

        # HTTP-FLV player (behind a proxy, with a Referer)
        session, resp = await flv_get(
            r,
            "cam",
            {"Referer": "http://site.example.com/x.html", "X-Forwarded-For": "1.1.1.1, 10.20.30.40"},
            query="t=1",
        )
        assert resp.status == 200
        await resp.content.readexactly(13)
        flv_cid = cid_of(r, "flv-play")
        [_, flv_play] = await receiver.wait("on_play", 2)
        body = flv_play.json
        check_stream_id(r, body, "/live/cam", sid)
        assert body == {
            **base,
            "action": "on_play",
            "client_id": flv_cid,
            "ip": "10.20.30.40",
            "vhost": "__defaultVhost__",
            "app": "live",
            "stream": "cam",
            "tcUrl": "rtmp://__defaultVhost__/live",  # SRS compat: HTTP players' tcUrl
            "param": "?t=1",
            "pageUrl": "http://site.example.com/x.html",
            "stream_url": "/live/cam",
        }
        # HTTP players get no on_connect/on_close (SRS: RTMP and SRT only)
        assert len(receiver.actions("on_connect")) == 2

        # the HTTP-FLV player leaves: on_stop
        resp.close()
        await session.close()
        [flv_stop] = await receiver.wait("on_stop")
        body = flv_stop.json
        check_stream_id(r, body, "/live/cam", sid)
        assert body == {
            **base,
            "action": "on_stop",
            "client_id": flv_cid,
            "ip": "10.20.30.40",
            "vhost": "__defaultVhost__",
            "app": "live",
            "tcUrl": "rtmp://__defaultVhost__/live",
            "stream": "cam",
            "param": "?t=1",
            "stream_url": "/live/cam",
        }

        # the RTMP player leaves: on_stop then on_close with its byte counts
        await player.close()
        await receiver.wait("on_stop", 2)
        [close1] = await receiver.wait("on_close")
        stop2 = receiver.actions("on_stop")[1].json
        check_stream_id(r, stop2, "/live/cam", sid)
        assert stop2 == {
            **base,
            "action": "on_stop",
            "client_id": play_cid,
            "ip": "127.0.0.1",
            "vhost": "__defaultVhost__",
            "app": "live",
            "tcUrl": tc_url,
            "stream": "cam",
            "param": "",
            "stream_url": "/live/cam",
        }
        body = close1.json
        assert body["send_bytes"] > 3000 and body["recv_bytes"] > 3000  # handshake + media
        assert isinstance(body["send_bytes"], int) and isinstance(body["recv_bytes"], int)
        assert {k: v for k, v in body.items() if not k.endswith("_bytes")} == {
            **base,
            "action": "on_close",
            "client_id": play_cid,
            "ip": "127.0.0.1",
            "vhost": "__defaultVhost__",
            "app": "live",
        }
        assert list(body) == [*base, "action", "client_id", "ip", "vhost", "app", "send_bytes", "recv_bytes"]

        # the publisher leaves: on_unpublish then on_close
        await pub.close()
        [unpublish] = await receiver.wait("on_unpublish")
        [_, close2] = await receiver.wait("on_close", 2)
        body = unpublish.json
        check_stream_id(r, body, "/live/cam", sid)
        assert body == {
            **base,
            "action": "on_unpublish",
            "client_id": pub_cid,
            "ip": "127.0.0.1",
            "vhost": "__defaultVhost__",
            "app": "live",
            "tcUrl": tc_url,
            "stream": "cam",
            "param": "?token=abc",
            "stream_url": "/live/cam",
        }
        assert close2.json["client_id"] == pub_cid
        assert close2.json["recv_bytes"] > sum(len(t.body) for t in AV[:60])
        # and nothing else was called
        await asyncio.sleep(0.2)
        assert sorted(c.action for c in receiver.calls) == sorted(
            ["on_connect"] * 2 + ["on_publish", "on_play", "on_play", "on_stop", "on_stop"]
            + ["on_close"] * 2 + ["on_unpublish"]
        )  # fmt: skip
    finally:
        await r.app.stop(graceful=False)


async def test_several_urls_called_in_order_first_failure_stops(tmp_path: Path, receiver: Receiver) -> None:
    def answer(call: Call) -> Answer:
        return Answer(500, b"no") if call.path == "/bad" else Answer()

    receiver.answer = answer
    ok_chain = " ".join(receiver.url(p) for p in ("/a", "/b", "/c"))
    bad_chain = " ".join(receiver.url(p) for p in ("/a", "/bad", "/c"))
    r = await start_with_hooks(tmp_path, hooks_block(on_play=ok_chain, on_publish=bad_chain))
    try:
        player = await RtmpClient.open(r.ports.rtmp)
        await player.play("s")
        await receiver.wait("on_play", 3)
        assert [c.path for c in receiver.actions("on_play")] == ["/a", "/b", "/c"]
        t = [c.at for c in receiver.actions("on_play")]
        assert t == sorted(t)  # sequential, not parallel
        assert not player.closed.is_set()

        pub = await RtmpClient.open(r.ports.rtmp)
        pub.session.publish("s")
        pub._flush()
        await asyncio.wait_for(pub.closed.wait(), 5)
        assert [c.path for c in receiver.actions("on_publish")] == ["/a", "/bad"]
        assert not any(s.get("code") == "NetStream.Publish.Start" for s in pub.statuses)
        await asyncio.sleep(0.2)
        assert [c.path for c in receiver.actions("on_publish")] == ["/a", "/bad"]  # /c never called
        await player.close()
        await pub.close()
    finally:
        await r.app.stop(graceful=False)


# (status, body, delay_s, accepted) - reference 4.1; "refused" = nothing listens on the port
SUCCESS_RULE = [
    pytest.param(200, b"0", 0.0, True, id="200-0"),
    pytest.param(201, b"0", 0.0, True, id="201-0"),
    pytest.param(200, b'{"code":0}', 0.0, True, id="200-code0"),
    pytest.param(200, b'{"code":0,"data":{"x":1}}', 0.0, True, id="200-code0-data"),
    pytest.param(200, b"0\n", 0.0, False, id="0-newline"),
    pytest.param(200, b'{"code":"0"}', 0.0, False, id="code-string"),
    pytest.param(200, b"{}", 0.0, False, id="empty-object"),
    pytest.param(200, b"", 0.0, False, id="empty-body"),
    pytest.param(200, b"ok", 0.0, False, id="not-json"),
    pytest.param(500, b"0", 0.0, False, id="500"),
    pytest.param(204, b"", 0.0, False, id="204"),
    pytest.param(200, b"0", 5.0, False, id="timeout"),
    pytest.param(0, b"", 0.0, False, id="refused"),
    pytest.param(-1, b"", 0.0, False, id="bad-url"),
]


@pytest.mark.parametrize(("status", "body", "delay_s", "ok"), SUCCESS_RULE)
async def test_success_rule(
    tmp_path: Path, receiver: Receiver, status: int, body: bytes, delay_s: float, ok: bool
) -> None:
    receiver.answer = lambda call: Answer(status, body, delay_s)
    if status == 0:
        from support.net import free_port

        url = f"http://127.0.0.1:{free_port()}/hook"
    elif status < 0:
        url = "ftp://127.0.0.1/hook"
    else:
        url = receiver.url("/hook")
    r = await start_with_hooks(tmp_path, hooks_block(on_play=url))
    r.app.hooks.timeout_s = 0.5
    try:
        player = await RtmpClient.open(r.ports.rtmp)
        t0 = time.monotonic()
        await player.play("s")  # SRS compat: Play.Start comes before the hook answers
        if ok:
            await asyncio.sleep(0.3)
            assert not player.closed.is_set()
            src = r.ctx.registry.find("/live/s")
            assert src is not None and len(src.consumers) == 1
        else:
            await asyncio.wait_for(player.closed.wait(), 5)
            assert time.monotonic() - t0 < 3  # a timeout is the configured one, not SRS's 30 s
            src = r.ctx.registry.find("/live/s")
            assert src is None or not src.consumers
        if status > 0:
            assert len(receiver.actions("on_play")) == 1
        await player.close()
    finally:
        await r.app.stop(graceful=False)


async def test_rejected_publisher_leaves_no_trace(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answer = lambda call: Answer(200, b'{"code":1}') if call.action == "on_publish" else Answer()
    urls = {h: receiver.url(f"/{h}") for h in ALL_HOOKS}
    r = await start_with_hooks(tmp_path, hooks_block(**urls))
    try:
        pub = await RtmpClient.open(r.ports.rtmp)
        pub.session.publish("nope")
        pub._flush()
        await asyncio.wait_for(pub.closed.wait(), 5)
        assert not any(s.get("code") == "NetStream.Publish.Start" for s in pub.statuses)
        await receiver.wait("on_close")  # on_connect passed, so on_close is due (as SRS)
        await asyncio.sleep(0.2)
        assert r.ctx.registry.find("/live/nope") is None
        assert not r.ctx.connections
        assert not [s for s in r.app.stats.streams() if s.url == "/live/nope"]
        assert not list(r.app.stats.clients())
        assert [c.action for c in receiver.calls] == ["on_connect", "on_publish", "on_close"]
        # the stream is free: a publisher the hook accepts can take it
        receiver.answer = lambda call: Answer()
        pub2 = await RtmpClient.open(r.ports.rtmp)
        await pub2.publish("nope")
        assert r.ctx.registry.find("/live/nope") is not None
        await pub2.close()
        await pub.close()
    finally:
        await r.app.stop(graceful=False)


async def test_rejected_players(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answer = lambda call: Answer(403, b"denied") if call.action == "on_play" else Answer()
    urls = {h: receiver.url(f"/{h}") for h in ALL_HOOKS}
    r = await start_with_hooks(tmp_path, hooks_block(**urls))
    try:
        # RTMP: Play.Start (SRS sends it before the hook), then the connection is closed
        player = await RtmpClient.open(r.ports.rtmp)
        player.session.play("s")
        player._flush()
        await asyncio.wait_for(player.closed.wait(), 5)
        assert [s.get("code") for s in player.statuses][:2] == [
            "NetStream.Play.Reset",
            "NetStream.Play.Start",
        ]
        assert player.media == []
        # HTTP-FLV: the connection is closed without any response
        assert await raw_get(r.ports.http, "/live/s.flv") == b""
        await receiver.wait("on_play", 2)
        await asyncio.sleep(0.2)
        assert not receiver.actions("on_stop")
        src = r.ctx.registry.find("/live/s")
        assert src is None or not src.consumers
        assert not r.ctx.connections
        await player.close()
    finally:
        await r.app.stop(graceful=False)


async def test_slow_hook_delays_only_its_own_client(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answer = lambda call: Answer(delay_s=3.0) if call.json.get("stream") == "slow" else Answer()
    r = await start_with_hooks(tmp_path, hooks_block(on_play=receiver.url("/play")))
    r.app.hooks.timeout_s = 30.0
    try:
        slow = await RtmpClient.open(r.ports.rtmp)
        slow.session.play("slow")
        slow._flush()
        await receiver.wait("on_play")  # its hook is now pending for 3 s
        t0 = time.monotonic()
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("fast")
        fast = await RtmpClient.open(r.ports.rtmp)
        await fast.play("fast")
        await pub.send_tags(AV[:100])
        got = await fast.wait_media(100, timeout_s=2)
        assert len(got) == 100
        assert time.monotonic() - t0 < 2.0  # everything above happened while the slow hook waited
        src = r.ctx.registry.find("/live/slow")
        assert src is None or not src.consumers  # still waiting for its hook
        await asyncio.sleep(3.2)
        src = r.ctx.registry.find("/live/slow")
        assert src is not None and len(src.consumers) == 1  # admitted once the hook said 0
        assert not slow.closed.is_set()  # a hook slower than the identify timeout is no timeout
        for c in (slow, pub, fast):
            await c.close()
    finally:
        await r.app.stop(graceful=False)


async def test_fire_and_forget_hooks_never_delay_and_are_cancelled_at_shutdown(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.answer = lambda call: Answer(delay_s=30.0)
    urls = {h: receiver.url(f"/{h}") for h in ("on_unpublish", "on_close", "on_stop")}
    r = await start_with_hooks(tmp_path, hooks_block(**urls))
    r.app.hooks.timeout_s = 30.0
    pub = await RtmpClient.open(r.ports.rtmp)
    await pub.publish("s")
    t0 = time.monotonic()
    await pub.close()
    await receiver.wait("on_unpublish")
    await receiver.wait("on_close")
    # the publisher is gone at once: nothing waited for the (30 s) hook answers
    assert time.monotonic() - t0 < 1.0
    pub2 = await RtmpClient.open(r.ports.rtmp)
    await pub2.publish("s")  # the stream is free again
    await pub2.close()
    t1 = time.monotonic()
    await r.app.stop(graceful=False)
    assert time.monotonic() - t1 < 2.0  # pending calls were cancelled, not awaited
    assert not r.app.hooks._tasks


async def test_https_hook_with_self_signed_certificate(tmp_path: Path) -> None:
    rx = await Receiver().start(server_ssl(tmp_path))
    try:
        assert rx.url().startswith("https://")
        r = await start_with_hooks(
            tmp_path, hooks_block(on_connect=rx.url("/c?x=1"), on_publish=rx.url("/p"))
        )
        try:
            pub = await RtmpClient.open(r.ports.rtmp)
            await pub.publish("tls")
            [c] = await rx.wait("on_connect")
            [p] = await rx.wait("on_publish")
            assert c.query == "x=1" and c.headers["User-Agent"] == SIGNATURE
            assert p.json["stream_url"] == "/live/tls"
            await pub.close()
        finally:
            await r.app.stop(graceful=False)
    finally:
        await rx.stop()


async def test_reload_changes_hook_urls(tmp_path: Path, receiver: Receiver) -> None:
    r = await start_with_hooks(tmp_path, hooks_block(on_publish=receiver.url("/old")))
    try:
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("a")
        await pub.close()
        conf = render_conf(
            r.ports, vhost_body=DEFAULT_VHOST_BODY + hooks_block(on_publish=receiver.url("/new"))
        )
        conf = conf.replace("./objs/nginx/html", str(tmp_path / "html"))
        result = await r.app.reload(parse_text(conf))
        assert result.ok
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("b")
        await pub.close()
        await receiver.wait("on_publish", 2)
        assert [(c.path, c.json["stream"]) for c in receiver.actions("on_publish")] == [
            ("/old", "a"),
            ("/new", "b"),
        ]
        # hooks turned off by a reload: nothing is called any more
        conf = render_conf(r.ports, vhost_body=DEFAULT_VHOST_BODY)
        conf = conf.replace("./objs/nginx/html", str(tmp_path / "html"))
        assert (await r.app.reload(parse_text(conf))).ok
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("c")
        await pub.close()
        await asyncio.sleep(0.2)
        assert len(receiver.actions("on_publish")) == 2
    finally:
        await r.app.stop(graceful=False)


async def test_hooks_disabled_calls_nothing(tmp_path: Path, receiver: Receiver) -> None:
    urls = {h: receiver.url(f"/{h}") for h in ALL_HOOKS}
    block = hooks_block(**urls).replace("enabled on;", "enabled off;")
    r = await start_with_hooks(tmp_path, block)
    try:
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("s")
        player = await RtmpClient.open(r.ports.rtmp)
        await player.play("s")
        await player.close()
        await pub.close()
        await asyncio.sleep(0.3)
        assert receiver.calls == []
    finally:
        await r.app.stop(graceful=False)


async def read_to_end(resp: aiohttp.ClientResponse) -> None:
    try:
        while await resp.content.read(65536):
            pass
    except aiohttp.ClientError:
        pass


async def kick(r: Running, cid: str) -> None:
    """``DELETE /api/v1/clients/{id}``, as an operator's tool does."""
    url = f"http://127.0.0.1:{r.ports.api}/api/v1/clients/{cid}"
    async with aiohttp.ClientSession() as s, s.delete(url) as resp:
        assert resp.status == 200
        body = await resp.json(content_type=None)
    assert body["code"] == 0 and body["server"] == r.ctx.identity.server_id


async def test_kick_fires_unpublish_stop_and_close(tmp_path: Path, receiver: Receiver) -> None:
    urls = {h: receiver.url(f"/{h}") for h in ALL_HOOKS}
    r = await start_with_hooks(tmp_path, hooks_block(**urls))
    try:
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("k")
        await pub.send_tags(AV[:30])
        player = await RtmpClient.open(r.ports.rtmp)
        await player.play("k")
        session, resp = await flv_get(r, "k")
        await resp.content.readexactly(13)
        await receiver.wait("on_play", 2)

        flv_cid = cid_of(r, "flv-play")
        await kick(r, flv_cid)
        [stop] = await receiver.wait("on_stop")
        assert stop.json["client_id"] == flv_cid
        await asyncio.wait_for(read_to_end(resp), 5)  # the player really sees its stream end
        resp.close()
        await session.close()

        play_cid = cid_of(r, "rtmp-play")
        await kick(r, play_cid)
        await asyncio.wait_for(player.closed.wait(), 5)
        await receiver.wait("on_stop", 2)
        [close] = await receiver.wait("on_close")
        assert receiver.actions("on_stop")[1].json["client_id"] == play_cid
        assert close.json["client_id"] == play_cid

        pub_cid = cid_of(r, "fmle-publish")
        await kick(r, pub_cid)
        await asyncio.wait_for(pub.closed.wait(), 5)
        [unpub] = await receiver.wait("on_unpublish")
        await receiver.wait("on_close", 2)
        assert unpub.json["client_id"] == pub_cid
        assert receiver.actions("on_close")[1].json["client_id"] == pub_cid
        await player.close()
        await pub.close()
    finally:
        await r.app.stop(graceful=False)


async def test_file_hooks_dvr_hls_and_notify(tmp_path: Path, receiver: Receiver) -> None:
    import os

    from srs.protocol.request import parse_rtmp

    def answer(call: Call) -> Answer:
        if call.method == "GET":
            return Answer(200, b"x" * 100_000)
        if call.json.get("seq_no") == 1 and call.json.get("stream") == "a":
            return Answer(delay_s=0.6)
        return Answer()

    receiver.answer = answer
    notify = receiver.url("/notify/[app]/[stream]/[ts_url]?s=[server_id]&v=[service_id]&p=[param]")
    r = await start_with_hooks(
        tmp_path,
        hooks_block(on_dvr=receiver.url("/dvr"), on_hls=receiver.url("/hls"), on_hls_notify=notify),
    )
    ident = r.ctx.identity
    req = parse_rtmp("rtmp://127.0.0.1/live", "a?k=1", ip="1.2.3.4").with_vhost("__defaultVhost__")
    req_b = parse_rtmp("rtmp://127.0.0.1/live", "b", ip="1.2.3.4").with_vhost("__defaultVhost__")
    hooks = r.app.hooks
    try:
        task = hooks.on_dvr("cid00001", req, "./objs/nginx/html/live/a.1700000000000.flv")
        assert task is not None and await task is True
        [dvr] = receiver.actions("on_dvr")
        assert dvr.json == {
            "server_id": ident.server_id,
            "service_id": ident.service_id,
            "action": "on_dvr",
            "client_id": "cid00001",
            "ip": "1.2.3.4",
            "vhost": "__defaultVhost__",
            "app": "live",
            "tcUrl": "rtmp://127.0.0.1/live",
            "stream": "a",
            "param": "?k=1",
            "cwd": os.getcwd(),
            "file": "./objs/nginx/html/live/a.1700000000000.flv",
            "stream_url": "/live/a",
        }

        def hls(rq: Any, seq: int) -> Any:
            return hooks.on_hls(
                "cid00001",
                rq,
                file=f"./objs/nginx/html/live/{rq.stream}-{seq}.ts",
                ts_url=f"{rq.stream}-{seq}.ts",
                m3u8=f"./objs/nginx/html/live/{rq.stream}.m3u8",
                m3u8_url=f"live/{rq.stream}.m3u8",
                seq_no=seq,
                duration_s=10.0,
            )

        t1, t2, tb = hls(req, 1), hls(req, 2), hls(req_b, 1)
        assert await asyncio.gather(t1, t2, tb) == [True, True, True]
        calls = receiver.actions("on_hls")
        by = {(c.json["stream"], c.json["seq_no"]): c for c in calls}
        # per stream in order: a-2 waited for the (slow) answer to a-1; b did not wait for a
        assert by[("a", 2)].at >= by[("a", 1)].at + 0.55
        assert by[("b", 1)].at < by[("a", 1)].at + 0.5
        a1 = by[("a", 1)].json
        assert list(a1)[7:] == [
            "tcUrl", "stream", "param", "duration", "cwd", "file", "url", "m3u8", "m3u8_url", "seq_no",
            "stream_url",
        ]  # fmt: skip
        assert (a1["duration"], a1["url"], a1["m3u8_url"]) == (10.0, "live/a-1.ts", "live/a.m3u8")

        t = hooks.on_hls_notify("cid00001", req, "live/a-3.ts")
        assert t is not None and await t is True
        [get] = [c for c in receiver.calls if c.method == "GET"]
        assert get.path == "/notify/live/a/live/a-3.ts"
        assert get.query == f"s={ident.server_id}&v={ident.service_id}&p=?k=1"
        assert get.body == b""

        # a failing on_dvr is reported by the task, never raised
        receiver.answer = lambda call: Answer(500)
        task = hooks.on_dvr("cid00001", req, "x.flv")
        assert task is not None and await task is False
    finally:
        await r.app.stop(graceful=False)


async def test_file_hooks_not_configured_return_none(tmp_path: Path) -> None:
    from srs.protocol.request import parse_rtmp

    r = await start_with_hooks(tmp_path, "")
    req = parse_rtmp("rtmp://127.0.0.1/live", "a").with_vhost("__defaultVhost__")
    try:
        assert r.app.hooks.on_dvr("c", req, "f.flv") is None
        assert r.app.hooks.on_hls_notify("c", req, "a.ts") is None
    finally:
        await r.app.stop(graceful=False)


@pytest.mark.parametrize("hook", ["on_connect", "on_publish", "on_play"])
async def test_kick_while_a_blocking_hook_is_pending_leaves_nothing_behind(
    tmp_path: Path, receiver: Receiver, hook: str
) -> None:
    receiver.answer = lambda call: Answer(delay_s=0.8) if call.action == hook else Answer()
    r = await start_with_hooks(tmp_path, hooks_block(**{hook: receiver.url(f"/{hook}")}))
    try:
        pub = await RtmpClient.open(r.ports.rtmp)
        pub.session.publish("g")
        pub._flush()
        player = await RtmpClient.open(r.ports.rtmp)
        player.session.play("h")
        player._flush()
        await receiver.wait(hook, 1 if hook != "on_connect" else 2)
        for conn in list(r.ctx.connections.values()):
            conn.close("kicked while its hook ran")
        await asyncio.sleep(1.2)  # the hook answers after the kick
        for url in ("/live/g", "/live/h"):
            src = r.ctx.registry.find(url)
            assert src is None or (src.publisher is None and not src.consumers), src
        assert r.app.stats.clients() == []
        assert r.app.stats.streams() == []
        # the stream is not left busy
        pub2 = await RtmpClient.open(r.ports.rtmp)
        receiver.answer = lambda call: Answer()
        await pub2.publish("g")
        for c in (pub, player, pub2):
            await c.close()
    finally:
        await r.app.stop(graceful=False)


async def test_graceful_stop_still_reports_the_ended_sessions(tmp_path: Path, receiver: Receiver) -> None:
    urls = {h: receiver.url(f"/{h}") for h in ("on_unpublish", "on_close", "on_stop")}
    r = await start_with_hooks(tmp_path, hooks_block(**urls))
    pub = await RtmpClient.open(r.ports.rtmp)
    await pub.publish("s")
    player = await RtmpClient.open(r.ports.rtmp)
    await player.play("s")
    await r.app.stop(graceful=True)
    assert sorted(c.action for c in receiver.calls) == ["on_close", "on_close", "on_stop", "on_unpublish"]
    await pub.close()
    await player.close()


async def test_on_connect_fires_at_every_play_or_publish_cycle(tmp_path: Path, receiver: Receiver) -> None:
    """SRS calls on_connect in every stream cycle of a connection: a republish on the same
    connection is connected again; on_close comes once, when the connection ends."""
    urls = {h: receiver.url(f"/{h}") for h in ALL_HOOKS}
    r = await start_with_hooks(tmp_path, hooks_block(**urls))
    try:
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("cycle")
        pub.session.unpublish("cycle")
        pub._flush()
        await pub.wait_status("NetStream.Unpublish.Success")
        pub.session.publish("cycle")
        pub._flush()
        await pub.wait_status("NetStream.Publish.Start")
        await pub.close()
        await receiver.wait("on_close")
        assert [c.action for c in receiver.calls] == [
            "on_connect",
            "on_publish",
            "on_unpublish",
            "on_connect",
            "on_publish",
            "on_unpublish",
            "on_close",
        ]
    finally:
        await r.app.stop(graceful=False)


async def test_on_close_fires_even_when_on_connect_refused(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answer = lambda call: Answer(200, b"1") if call.action == "on_connect" else Answer()
    urls = {h: receiver.url(f"/{h}") for h in ALL_HOOKS}
    r = await start_with_hooks(tmp_path, hooks_block(**urls))
    try:
        pub = await RtmpClient.open(r.ports.rtmp)
        pub.session.publish("refused")
        pub._flush()
        await asyncio.wait_for(pub.closed.wait(), 5)
        await receiver.wait("on_close")
        assert [c.action for c in receiver.calls] == ["on_connect", "on_close"]
        assert r.ctx.registry.find("/live/refused") is None
        await pub.close()
    finally:
        await r.app.stop(graceful=False)


async def test_refer_play_is_checked_after_the_on_play_hook(tmp_path: Path, receiver: Receiver) -> None:
    """SRS's order: the on_play hook runs, then SrsRtmpConn::playing checks refer.play."""
    urls = {h: receiver.url(f"/{h}") for h in ALL_HOOKS}
    refer = "    refer { enabled on; play other.com; }\n"
    r = await start_with_hooks(tmp_path, hooks_block(**urls) + refer)
    try:
        player = await open_rtmp(r.ports.rtmp, page_url="http://evil.com/page.html")
        player.session.play("ref")
        player._flush()
        await asyncio.wait_for(player.closed.wait(), 5)
        await receiver.wait("on_close")
        assert [c.action for c in receiver.calls] == ["on_connect", "on_play", "on_close"]
        assert r.ctx.registry.find("/live/ref") is None or not r.ctx.registry.find("/live/ref").consumers
        await player.close()
    finally:
        await r.app.stop(graceful=False)
