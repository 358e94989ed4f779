"""``DELETE /api/v1/clients/{id}`` kicks: RTMP publisher, RTMP player and HTTP-FLV player really
disconnect (the client sees EOF), leave the client list, and the others keep being served."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from srs.protocol.request import Request
from srs.server.policy import Client
from support.rtmp_client import RtmpClient

from .conftest import start_app
from .test_api_shapes import V2_CONF, Scene, open_scene, wait_for


async def delete(scene: Scene, cid: str, **params: str) -> Any:
    async with scene.http.delete(scene.api_url(f"/api/v1/clients/{cid}"), params=params) as resp:
        assert resp.status == 200
        return json.loads(await resp.read())


async def client_ids(scene: Scene) -> dict[str, str]:
    body = await scene.get("/api/v1/clients/?count=100")
    return {
        c["type"] if c["type"] != "rtmp-play" else f"rtmp-play:{c['url']}": c["id"] for c in body["clients"]
    }


async def gone(scene: Scene, cid: str) -> None:
    async def check() -> bool:
        body = await scene.get("/api/v1/clients/?count=100")
        return all(c["id"] != cid for c in body["clients"])

    await wait_for(check, what=f"client {cid} to leave the list")
    body = await scene.get(f"/api/v1/clients/{cid}")
    assert body == {"code": 2049}


async def test_kick_rtmp_player_http_flv_player_and_publisher(tmp_path: Path) -> None:
    r = await start_app(tmp_path, extra=V2_CONF)
    scene = await open_scene(r)
    try:
        await wait_for(lambda: _flv_bytes(scene, 1), what="HTTP-FLV data")
        ids = await client_ids(scene)
        assert set(ids) == {
            "fmle-publish",
            "flv-play",
            "rtmp-play:/live/livestream",
            "rtmp-play:v2.test/live/waiting",
        }

        # 1. the RTMP player: its socket is closed, the publisher and the HTTP-FLV player go on
        body = await delete(scene, ids["rtmp-play:/live/livestream"])
        ident = r.ctx.identity
        assert body == {
            "code": 0,
            "server": ident.server_id,
            "service": ident.service_id,
            "pid": str(ident.pid),
        }
        await asyncio.wait_for(scene.player.closed.wait(), 5)
        await gone(scene, ids["rtmp-play:/live/livestream"])
        before = scene.flv_received[0]
        await wait_for(lambda: _flv_bytes(scene, before + 1), what="HTTP-FLV still flowing")
        assert not scene.pub.closed.is_set()

        # 2. the HTTP-FLV player (through JSONP method emulation, as a browser would): its response ends
        async with scene.http.get(
            scene.api_url(f"/api/v1/clients/{ids['flv-play']}"),
            params={"callback": "kick", "method": "DELETE"},
        ) as resp:
            assert resp.headers["Content-Type"] == "text/javascript"
            assert (await resp.text()).startswith('kick({"code":0,')
        await asyncio.wait_for(scene.flv_eof.wait(), 5)
        await gone(scene, ids["flv-play"])
        live = (await scene.get("/api/v1/streams/"))["streams"]
        assert any(s["publish"]["active"] and s["clients"] == 1 for s in live)  # only the publisher left

        # 3. the publisher: disconnected; the player waiting on the other vhost is untouched
        await delete(scene, ids["fmle-publish"])
        await asyncio.wait_for(scene.pub.closed.wait(), 5)
        await gone(scene, ids["fmle-publish"])
        streams = (await scene.get("/api/v1/streams/"))["streams"]
        assert [s["url"] for s in streams] == ["v2.test/live/waiting"]
        assert not scene.v2_player.closed.is_set()

        # the server still serves: a new publisher and player on the same stream
        pub2 = await RtmpClient.open(r.ports.rtmp)
        await pub2.publish("livestream")
        player2 = await RtmpClient.open(r.ports.rtmp)
        await player2.play("livestream")
        types = sorted(c["type"] for c in (await scene.get("/api/v1/clients/"))["clients"])
        assert types == ["fmle-publish", "rtmp-play", "rtmp-play"]
        for c in (pub2, player2):
            c.writer.close()
    finally:
        await scene.close()
        await r.app.stop(graceful=False)


async def _flv_bytes(scene: Scene, n: int) -> bool:
    return scene.flv_received[0] >= n


class _NoConn:
    """A session known to stats but without a connection to expire (an HLS player in SRS)."""

    cid = "hls00001"
    ip = "10.1.1.1"
    send_bytes = 0
    recv_bytes = 0
    kind = "hls-play"

    def close(self, reason: str) -> None:
        raise AssertionError("must not be called")


async def test_kick_errors(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{r.ports.api}/api/v1/clients"
            async with http.delete(f"{base}/nosuchid") as resp:
                assert resp.status == 200 and json.loads(await resp.read()) == {"code": 2049}
            async with http.delete(f"{base}/") as resp:  # no id: SRS says client not found
                assert json.loads(await resp.read()) == {"code": 2049}
            r.app.stats.on_client(Client(_NoConn(), Request("__defaultVhost__", "live", "hls"), "hls-play"))  # type: ignore[arg-type]
            async with http.get(f"{base}/hls00001") as resp:
                assert json.loads(await resp.read())["client"]["type"] == "hls-play"
            async with http.delete(f"{base}/hls00001") as resp:
                assert json.loads(await resp.read()) == {"code": 400}
            for method in ("PUT", "POST", "PATCH"):
                async with http.request(method, f"{base}/hls00001") as resp:
                    assert resp.status == 405
    finally:
        await r.app.stop(graceful=False)
