"""Stream casters in-process: hooks and stats of a caster publish, kick, the UDP idle timeout and
republish, the FLV caster's answers (405, bad body, busy stream)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from srs.format import flv
from srs.remux.rtmp import media_from_rtmp
from srs.remux.ts import TsWire, stream_types
from srs.server.casters import CLIENT_KIND, CasterStream
from support.media import clip
from support.server import DEFAULT_VHOST_BODY

from .conftest import Running, start_app
from .test_hooks_receiver import Receiver, hooks_block


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.stop()


def _ts_of_clip() -> bytes:
    _, tags = flv.parse_file(clip("avatar.flv").read_bytes())
    msgs = [m for t in tags if (m := media_from_rtmp(t.tag_type, t.timestamp, t.body)) is not None]
    wire = TsWire(*stream_types(msgs))
    return wire.preamble + b"".join(wire.encode(m) for m in msgs)


async def _until(cond: Any, what: str, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not cond():
        assert loop.time() < deadline, f"timeout waiting for {what}"
        await asyncio.sleep(0.02)


def _casters(r: Running) -> list[CasterStream]:
    return [c for c in r.ctx.connections.values() if isinstance(c, CasterStream)]


async def _send_udp(port: int, data: bytes, size: int = 1316) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for n, i in enumerate(range(0, len(data), size)):
            sock.sendto(data[i : i + size], ("127.0.0.1", port))
            if n % 16 == 15:
                await asyncio.sleep(0.002)  # let the server read (its socket buffer may be small)
    finally:
        sock.close()


async def test_udp_caster_publishes_kicks_and_times_out(tmp_path: Path, receiver: Receiver) -> None:
    hooks = hooks_block(on_publish=receiver.url("/p"), on_unpublish=receiver.url("/u"))
    body = DEFAULT_VHOST_BODY + hooks + "    publish { normal_timeout 1000; }\n"
    extra = "stream_caster { enabled on; caster mpegts_over_udp; listen 0; output rtmp://127.0.0.1/live/udp?k=v; }"
    r = await start_app(tmp_path, vhost_body=body, extra=extra)
    try:
        (caster,) = r.app.casters
        data = _ts_of_clip()
        await _send_udp(caster.port, data[: len(data) // 2])
        (pub,) = await receiver.wait("on_publish")
        j = pub.json
        assert (j["app"], j["stream"], j["param"], j["vhost"]) == ("live", "udp", "?k=v", "__defaultVhost__")
        assert j["ip"] == "127.0.0.1"
        await _until(lambda: any(c.messages > 100 for c in _casters(r)), "media in the source")
        (stream,) = _casters(r)
        assert stream.kind == CLIENT_KIND == "flash-publish"
        src = r.ctx.registry.find("/live/udp")
        assert src is not None and src.publishing and src.publisher is stream
        st = r.app.stats.stream_by_url("/live/udp")
        assert st is not None
        # A kick ends the publish; the next datagrams publish again (SRS's caster reconnects).
        stream.close("kicked")
        (unpub,) = await receiver.wait("on_unpublish")
        assert unpub.json["stream"] == "udp"
        assert stream.cid not in r.ctx.connections
        await _send_udp(caster.port, data[len(data) // 2 :])
        await receiver.wait("on_publish", 2)
        await _until(lambda: bool(_casters(r)) and _casters(r)[0].cid != stream.cid, "a new publish")
        # No datagram for publish.normal_timeout: unpublished.
        await _until(lambda: not _casters(r), "the idle timeout", timeout_s=15)
        await receiver.wait("on_unpublish", 2)
    finally:
        await r.app.stop(graceful=False)


async def test_udp_caster_refused_by_hook_retries_later(tmp_path: Path, receiver: Receiver) -> None:
    from .test_hooks_receiver import Answer

    receiver.answer = lambda call: Answer(status=403)
    body = DEFAULT_VHOST_BODY + hooks_block(on_publish=receiver.url("/p"))
    extra = "stream_caster { enabled on; caster mpegts_over_udp; listen 0; output rtmp://127.0.0.1/live/no; }"
    r = await start_app(tmp_path, vhost_body=body, extra=extra)
    try:
        (caster,) = r.app.casters
        await _send_udp(caster.port, _ts_of_clip()[: 188 * 300])
        await receiver.wait("on_publish")
        await _until(lambda: not _casters(r), "the refused publish to go")
        src = r.ctx.registry.find("/live/no")
        assert src is None or not src.publishing
    finally:
        await r.app.stop(graceful=False)


async def test_flv_caster_post_get_bad_body_and_busy(tmp_path: Path, receiver: Receiver) -> None:
    hooks = hooks_block(on_publish=receiver.url("/p"), on_unpublish=receiver.url("/u"))
    extra = "stream_caster { enabled on; caster flv; listen 0; output rtmp://127.0.0.1/[app]/[stream]; }"
    r = await start_app(tmp_path, vhost_body=DEFAULT_VHOST_BODY + hooks, extra=extra)
    try:
        (caster,) = r.app.casters
        base = f"http://127.0.0.1:{caster.port}"
        body = clip("avatar.flv").read_bytes()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/live/a.flv") as resp:
                assert resp.status == 405
            async with http.post(f"{base}/live/bad.flv", data=b"not an flv at all") as resp:
                assert resp.status == 400
            assert not _casters(r)

            # A slow chunked body: the stream is live while it comes; a second POST to it is busy.
            gate = asyncio.Event()

            async def slow() -> AsyncIterator[bytes]:
                yield body[: len(body) // 2]
                await gate.wait()
                yield body[len(body) // 2 :]

            first = asyncio.ensure_future(http.post(f"{base}/app2/cam.flv", data=slow()))
            (pub,) = await receiver.wait("on_publish")
            assert (pub.json["app"], pub.json["stream"]) == ("app2", "cam")
            (stream,) = _casters(r)
            assert stream.kind == "flash-publish"
            await _until(lambda: stream.messages > 50, "tags in the source")
            async with http.post(f"{base}/app2/cam.flv", data=body[:1000]) as resp:
                assert resp.status == 409
            gate.set()
            resp = await first
            assert resp.status == 200
            resp.release()
            (unpub,) = await receiver.wait("on_unpublish")
            assert unpub.json["stream"] == "cam"
            n_tags = sum(1 for t in flv.parse_file(body)[1] if t.tag_type != flv.TagType.SCRIPT)
            assert stream.messages == n_tags
            assert not _casters(r)
    finally:
        await r.app.stop(graceful=False)
