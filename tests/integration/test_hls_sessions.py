"""HLS sessions (hls_ctx / hls_ts_ctx) against the real server: the master playlist with the
session id, hls-play clients in the API with their bytes, on_play refusing, on_stop after the
timeout or a kick, plain files with hls_ctx off, and a bounded session table."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from srs.format import flv, m3u8
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags

from .conftest import Running, start_app
from .test_hooks_receiver import Answer, Receiver

AV = [t for t in flv_tags(clip("bbb.flv")) if t.tag_type != flv.TagType.SCRIPT]


def body(html: Path, *, hls_extra: str = "", hooks: str = "") -> str:
    return f"""
    hls {{
        enabled on;
        hls_fragment 2;
        hls_window 60;
        hls_path {html};
        {hls_extra}
    }}
    {hooks}
    """


def hooks_block(receiver: Receiver) -> str:
    return f"""
    http_hooks {{
        enabled on;
        on_play {receiver.url("/play")};
        on_stop {receiver.url("/stop")};
    }}
    """


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.stop()


async def published(r: Running, html: Path, stream: str = "s") -> RtmpClient:
    """A publisher that stays on, once the playlist has two segments."""
    pub = await RtmpClient.open(r.ports.rtmp)
    await pub.publish(stream)
    await pub.send_tags(AV)
    path = html / "live" / f"{stream}.m3u8"
    for _ in range(200):
        if path.exists() and len(m3u8.parse(path.read_text()).segments) >= 2:
            return pub
        await asyncio.sleep(0.05)
    raise TimeoutError(path)


async def api(http: aiohttp.ClientSession, r: Running, path: str, method: str = "GET") -> Any:
    async with http.request(method, f"http://127.0.0.1:{r.ports.api}/api/v1/{path}") as resp:
        return await resp.json(content_type=None)


async def hls_clients(http: aiohttp.ClientSession, r: Running) -> list[dict[str, Any]]:
    return [c for c in (await api(http, r, "clients/"))["clients"] if c["type"] == "hls-play"]


def variant_of(master: str) -> str:
    lines = master.splitlines()
    assert lines[:2] == ["#EXTM3U", "#EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1"], master
    assert len(lines) == 3
    return lines[2]


async def wait_until(pred: Any, what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await pred():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(what)


async def test_session_master_playlist_client_and_bytes(tmp_path: Path, receiver: Receiver) -> None:
    html = tmp_path / "html"
    r = await start_app(tmp_path, vhost_body=body(html, hooks=hooks_block(receiver)))
    pub = await published(r, html)
    base = f"http://127.0.0.1:{r.ports.http}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(
                base + "/live/s.m3u8?token=abc", headers={"Referer": "http://page/x"}
            ) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "application/vnd.apple.mpegurl"
                assert resp.headers["Cache-Control"] == "no-cache"
                variant = variant_of(await resp.text())
            path, _, query = variant.partition("?")
            assert path == "/live/s.m3u8"
            ctx, _, rest = query.partition("&")
            assert ctx.startswith("hls_ctx=") and rest == "token=abc"  # SRS keeps the request's query
            sid = ctx.removeprefix("hls_ctx=")
            # on_play came first, with the stream (not "s.m3u8") and the request's query
            (play,) = await receiver.wait("on_play")
            assert play.json["client_id"] == sid
            assert (play.json["app"], play.json["stream"], play.json["param"]) == ("live", "s", "?token=abc")
            assert (
                play.json["pageUrl"] == "http://page/x"
                and play.json["tcUrl"] == "rtmp://__defaultVhost__/live"
            )
            (c,) = await hls_clients(http, r)
            assert (c["id"], c["url"], c["name"], c["ip"]) == (sid, "/live/s", "s", "127.0.0.1")
            (st,) = [s for s in (await api(http, r, "streams/"))["streams"] if s["url"] == "/live/s"]
            assert st["clients"] == 2  # the publisher and the HLS player

            # The media playlist: segments carry the id; the file on disk stays plain.
            async with http.get(base + variant) as resp:
                assert resp.status == 200 and resp.headers["Content-Type"] == "application/vnd.apple.mpegurl"
                media = m3u8.parse(await resp.text())
            on_disk = m3u8.parse((html / "live" / "s.m3u8").read_text())
            assert [s.uri for s in on_disk.segments][:2] == ["s-0.ts", "s-1.ts"]
            assert [s.uri for s in media.segments][:2] == [f"s-0.ts?hls_ctx={sid}", f"s-1.ts?hls_ctx={sid}"]
            size = (html / "live" / "s-0.ts").stat().st_size
            before = (await hls_clients(http, r))[0]["send_bytes"]
            async with http.get(f"{base}/live/{media.segments[0].uri}") as resp:
                assert resp.status == 200 and len(await resp.read()) == size

            async def counted() -> bool:
                cs = await hls_clients(http, r)
                return bool(cs) and cs[0]["send_bytes"] >= before + size

            await wait_until(counted, "segment bytes in the client's send_bytes")
            (st,) = [s for s in (await api(http, r, "streams/"))["streams"] if s["url"] == "/live/s"]
            assert st["send_bytes"] >= size
            assert len(receiver.actions("on_play")) == 1  # following the session is not a new play
    finally:
        await pub.close()
        await r.app.stop(graceful=False)


async def test_on_play_refusal_is_403_without_playlist(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answer = lambda call: Answer(200, b'{"code":1}') if call.action == "on_play" else Answer()
    html = tmp_path / "html"
    r = await start_app(tmp_path, vhost_body=body(html, hooks=hooks_block(receiver)))
    pub = await published(r, html)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{r.ports.http}/live/s.m3u8") as resp:
                assert resp.status == 403
                j = await resp.json()
                assert j["code"] != 0 and "on_play" in j["reason"] and "#EXTM3U" not in await resp.text()
            assert await hls_clients(http, r) == []
            await asyncio.sleep(0.3)
            assert receiver.actions("on_stop") == []  # a refused play never started
    finally:
        await pub.close()
        await r.app.stop(graceful=False)


async def test_security_deny_is_403(tmp_path: Path) -> None:
    html = tmp_path / "html"
    security = "security { enabled on; deny play 127.0.0.1; allow publish all; }"
    r = await start_app(tmp_path, vhost_body=body(html, hooks=security))
    pub = await published(r, html)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{r.ports.http}/live/s.m3u8") as resp:
                assert resp.status == 403 and "security" in (await resp.json())["reason"]
            assert await hls_clients(http, r) == []
    finally:
        await pub.close()
        await r.app.stop(graceful=False)


async def test_timeout_fires_on_stop(tmp_path: Path, receiver: Receiver) -> None:
    html = tmp_path / "html"
    r = await start_app(tmp_path, vhost_body=body(html, hooks=hooks_block(receiver)))
    assert r.ctx.hls_play is not None
    r.ctx.hls_play.timeout_s = 3.0  # SRS: 2 * hls_window (120 s by default)
    pub = await published(r, html)
    base = f"http://127.0.0.1:{r.ports.http}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/live/s.m3u8") as resp:
                variant = variant_of(await resp.text())
            sid = variant.split("hls_ctx=")[1]
            for _ in range(3):  # a playing client keeps its session
                async with http.get(base + variant) as resp:
                    assert resp.status == 200
                await asyncio.sleep(0.3)
            assert receiver.actions("on_stop") == []
            (stop,) = await receiver.wait("on_stop", timeout_s=10)
            assert stop.json["client_id"] == sid and stop.json["stream"] == "s"
            assert await hls_clients(http, r) == []
            # SRS: the expired id comes back as a new session with the same id (a new on_play)
            async with http.get(base + variant) as resp:
                assert variant_of(await resp.text()) == f"/live/s.m3u8?hls_ctx={sid}"
            await receiver.wait("on_play", 2)
            assert [c["id"] for c in await hls_clients(http, r)] == [sid]
    finally:
        await pub.close()
        await r.app.stop(graceful=False)


async def test_kick_ends_the_session(tmp_path: Path, receiver: Receiver) -> None:
    html = tmp_path / "html"
    r = await start_app(tmp_path, vhost_body=body(html, hooks=hooks_block(receiver)))
    pub = await published(r, html)
    base = f"http://127.0.0.1:{r.ports.http}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/live/s.m3u8") as resp:
                variant = variant_of(await resp.text())
            sid = variant.split("hls_ctx=")[1]
            assert (await api(http, r, f"clients/{sid}", "DELETE"))["code"] == 0
            (stop,) = await receiver.wait("on_stop")
            assert stop.json["client_id"] == sid
            assert await hls_clients(http, r) == []
            async with http.get(base + variant) as resp:  # SRS: "HLS stream <id> is EOF"
                assert resp.status == 404 and sid in await resp.text()
            async with http.get(f"{base}/live/s-0.ts?hls_ctx={sid}") as resp:
                assert resp.status == 200  # segments stay plain files
            assert (await api(http, r, f"clients/{sid}"))["code"] == 2049
            await asyncio.sleep(0.2)
            assert len(receiver.actions("on_stop")) == 1
    finally:
        await pub.close()
        await r.app.stop(graceful=False)


async def test_unknown_ctx_becomes_the_session_id(tmp_path: Path) -> None:
    html = tmp_path / "html"
    r = await start_app(tmp_path, vhost_body=body(html))
    pub = await published(r, html)
    base = f"http://127.0.0.1:{r.ports.http}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/live/s.m3u8?hls_ctx=mine123&token=x") as resp:
                assert variant_of(await resp.text()) == "/live/s.m3u8?hls_ctx=mine123"  # SRS drops the rest
            async with http.get(base + "/live/s.m3u8?hls_ctx=bad%26id") as resp:  # not an id: a fresh one
                fresh = variant_of(await resp.text()).split("hls_ctx=")[1]
            assert fresh != "bad&id" and len(fresh) == 8
            assert sorted(c["id"] for c in await hls_clients(http, r)) == sorted(["mine123", fresh])
    finally:
        await pub.close()
        await r.app.stop(graceful=False)


async def test_a_connection_id_is_never_taken_over(tmp_path: Path) -> None:
    html = tmp_path / "html"
    r = await start_app(tmp_path, vhost_body=body(html))
    pub = await published(r, html)
    base = f"http://127.0.0.1:{r.ports.http}"
    try:
        async with aiohttp.ClientSession() as http:
            (publisher,) = [c for c in (await api(http, r, "clients/"))["clients"] if c["publish"]]
            async with http.get(f"{base}/live/s.m3u8?hls_ctx={publisher['id']}") as resp:
                sid = variant_of(await resp.text()).split("hls_ctx=")[1]
            assert sid != publisher["id"]
            (still,) = [c for c in (await api(http, r, "clients/"))["clients"] if c["id"] == publisher["id"]]
            assert still["type"] == "fmle-publish"
    finally:
        await pub.close()
        await r.app.stop(graceful=False)


@pytest.mark.parametrize(("ctx", "ts_ctx"), [("off", "on"), ("on", "off")])
async def test_hls_ctx_off_and_ts_ctx_off(tmp_path: Path, ctx: str, ts_ctx: str) -> None:
    html = tmp_path / "html"
    r = await start_app(tmp_path, vhost_body=body(html, hls_extra=f"hls_ctx {ctx}; hls_ts_ctx {ts_ctx};"))
    pub = await published(r, html)
    base = f"http://127.0.0.1:{r.ports.http}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/live/s.m3u8") as resp:
                text = await resp.text()
            if ctx == "off":  # plain file serving, nobody in the API
                assert text == (html / "live" / "s.m3u8").read_text()
                assert await hls_clients(http, r) == []
                return
            variant = variant_of(text)
            async with http.get(base + variant) as resp:  # the session, but segments stay plain
                media = m3u8.parse(await resp.text())
            assert media.segments[0].uri == "s-0.ts"
            assert len(await hls_clients(http, r)) == 1
    finally:
        await pub.close()
        await r.app.stop(graceful=False)


async def test_session_table_is_bounded(tmp_path: Path) -> None:
    html = tmp_path / "html"
    r = await start_app(tmp_path, vhost_body=body(html), max_connections=6)
    pub = await published(r, html)
    base = f"http://127.0.0.1:{r.ports.http}"
    hls = r.ctx.hls_play
    assert hls is not None
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
            # A flood of playlist requests that never follow: the oldest unused sessions make room.
            for _ in range(20):
                async with http.get(base + "/live/s.m3u8") as resp:
                    assert resp.status == 200
            assert len(hls.sessions) == 6
            assert len(await hls_clients(http, r)) == 6
            # Players that follow their session keep it; once every session is used, 503.
            variants = []
            for _ in range(6):
                async with http.get(base + "/live/s.m3u8") as resp:
                    variants.append(variant_of(await resp.text()))
                async with http.get(base + variants[-1]) as resp:
                    assert resp.status == 200
            async with http.get(base + "/live/s.m3u8") as resp:
                assert resp.status == 503 and (await resp.json())["code"] == 1074
            for v in variants:
                async with http.get(base + v) as resp:
                    assert resp.status == 200 and "#EXTINF" in await resp.text()
    finally:
        await pub.close()
        await r.app.stop(graceful=False)
