"""WebRTC sessions and the control plane, in process with aiortc as the peer: hooks (on_publish,
on_unpublish, on_play, on_stop; a refusal), stats clients ``rtc-publish``/``rtc-play`` with bytes,
kick through the API, consent timeout, a second publisher refused, ``rtmp_to_rtc off``, and a
garbage datagram storm on the media port that leaves established sessions alone."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from support.media import clip
from support.rtc import SignalError, loopback_ice, whep_play, whip_publish
from support.rtmp_client import RtmpClient, flv_tags

from .conftest import Running, start_app
from .test_hooks_receiver import Answer, Receiver, hooks_block

RTC_SERVER = "rtc_server { enabled on; listen 0; candidate 127.0.0.1; }"
VHOST = """
    http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
    rtc { enabled on; rtmp_to_rtc on; rtc_to_rtmp on; stun_timeout STUN; }
"""
HOOKS = ("on_publish", "on_unpublish", "on_play", "on_stop")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.stop()


async def start(tmp_path: Path, body: str = "", stun_timeout: int = 30) -> Running:
    loopback_ice()
    vhost = VHOST.replace("STUN", str(stun_timeout))
    return await start_app(tmp_path, vhost_body=vhost + body, extra=RTC_SERVER)


def whip(r: Running, stream: str) -> str:
    return f"http://127.0.0.1:{r.ports.api}/rtc/v1/whip/?app=live&stream={stream}&k=v"


def whep(r: Running, stream: str) -> str:
    return f"http://127.0.0.1:{r.ports.api}/rtc/v1/whep/?app=live&stream={stream}"


async def api(r: Running, path: str, method: str = "GET") -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"http://127.0.0.1:{r.ports.api}{path}") as resp,
    ):
        assert resp.status == 200
        return json.loads(await resp.read())


async def wait_until(cond: Any, timeout_s: float = 10.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not cond():
        assert loop.time() < deadline, f"timeout waiting for {what}"
        await asyncio.sleep(0.05)


async def test_hooks_stats_and_kick(tmp_path: Path, receiver: Receiver) -> None:
    urls = {h: receiver.url(f"/api/{h}") for h in HOOKS}
    r = await start(tmp_path, hooks_block(**urls))
    try:
        pub = asyncio.ensure_future(whip_publish(whip(r, "cam"), clip("bbb.flv"), 14))
        (call,) = await receiver.wait("on_publish")
        body = call.json
        assert (body["app"], body["stream"], body["vhost"]) == ("live", "cam", "__defaultVhost__")
        assert "k=v" in body["param"]
        await wait_until(lambda: r.ctx.registry.find("/live/cam") is not None, what="source")
        play = asyncio.ensure_future(whep_play(whep(r, "cam"), 12))
        (call,) = await receiver.wait("on_play")
        assert call.json["stream"] == "cam"
        clients: dict[str, Any] = {}

        async def both_flowing() -> bool:
            got = (await api(r, "/api/v1/clients/?count=100"))["clients"]
            clients.clear()
            clients.update({c["type"]: c for c in got})
            return all(
                k in clients and clients[k]["send_bytes"] > 0 and clients[k]["recv_bytes"] > 0
                for k in ("rtc-publish", "rtc-play")
            )

        for _ in range(200):
            if await both_flowing():
                break
            await asyncio.sleep(0.05)
        assert await both_flowing(), clients
        streams = (await api(r, "/api/v1/streams/"))["streams"]
        (st,) = [s for s in streams if s["name"] == "cam"]
        assert st["publish"]["active"] and st["video"]["codec"] == "H264" and st["audio"]["codec"] == "AAC"
        # Kick the player, then the publisher: their peer connections end.
        await api(r, f"/api/v1/clients/{clients['rtc-play']['id']}", "DELETE")
        await receiver.wait("on_stop")
        got = await asyncio.wait_for(play, 20)
        assert got.video_frames > 0 and "closed" in got.states[1:], got.states
        await api(r, f"/api/v1/clients/{clients['rtc-publish']['id']}", "DELETE")
        await receiver.wait("on_unpublish")
        await asyncio.wait_for(pub, 30)
        assert not r.app.rtc.sessions  # type: ignore[union-attr]
        assert not r.ctx.connections
    finally:
        await r.app.stop(graceful=False)


async def test_on_publish_refusal_closes_the_request(tmp_path: Path, receiver: Receiver) -> None:
    receiver.answer = lambda call: Answer(status=403)
    r = await start(tmp_path, hooks_block(on_publish=receiver.url("/api/on_publish")))
    try:
        with pytest.raises((SignalError, aiohttp.ClientError)):
            await whip_publish(whip(r, "cam"), clip("bbb.flv"), 1)
        assert not r.app.rtc.sessions  # type: ignore[union-attr]
        assert r.ctx.registry.find("/live/cam") is None
    finally:
        await r.app.stop(graceful=False)


async def test_second_publisher_refused_and_consent_timeout(tmp_path: Path) -> None:
    r = await start(tmp_path, stun_timeout=3)  # aiortc refreshes consent every ~5 s: end quickly
    try:
        pub = asyncio.ensure_future(whip_publish(whip(r, "cam"), clip("bbb.flv"), 3))
        await wait_until(lambda: r.ctx.registry.find("/live/cam") is not None, what="source")
        with pytest.raises((SignalError, aiohttp.ClientError)):
            await whip_publish(whip(r, "cam"), clip("bbb.flv"), 1)
        assert (await pub).connected
        # An offer answered but never followed by ICE: freed after stun_timeout (3 s).
        async with aiohttp.ClientSession() as http:
            offer = (await pub).offer
            async with http.post(whep(r, "other"), data=offer.replace("sendonly", "recvonly")) as resp:
                assert resp.status == 201
        rtc = r.app.rtc
        assert rtc is not None
        await wait_until(lambda: len(rtc.sessions) == 1, what="one waiting session")
        await wait_until(lambda: not rtc.sessions, timeout_s=8, what="the stun_timeout")
        assert not r.ctx.connections
    finally:
        await r.app.stop(graceful=False)


async def test_rtmp_to_rtc_off_refuses_whep_of_a_live_rtmp_stream(tmp_path: Path) -> None:
    loopback_ice()
    r = await start_app(tmp_path, vhost_body="rtc { enabled on; rtmp_to_rtc off; }", extra=RTC_SERVER)
    try:
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("cam")
        await pub.send_tags(flv_tags(clip("bbb.flv"))[:20])
        with pytest.raises((SignalError, aiohttp.ClientError)):
            await whep_play(whep(r, "cam"), 2)
        await pub.close()
    finally:
        await r.app.stop(graceful=False)


async def test_garbage_storm_leaves_sessions_alone(tmp_path: Path) -> None:
    r = await start(tmp_path)
    try:
        rtc = r.app.rtc
        assert rtc is not None and rtc.udp_port
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("cam")
        feeder = asyncio.ensure_future(pub.send_tags(flv_tags(clip("bbb.flv")), realtime=True))
        play = asyncio.ensure_future(whep_play(whep(r, "cam"), 9))
        await wait_until(lambda: any(s.connected for s in rtc.sessions.values()), what="connected")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rng = os.urandom
        kinds = [b"\x00\x01", b"\x16\xfe", b"\x80\x60", b"\x81\xc8", b"\xff"]  # STUN, DTLS, RTP, RTCP, other
        for i in range(3000):
            s.sendto(kinds[i % len(kinds)] + rng(i % 200), ("127.0.0.1", rtc.udp_port))
            if i % 100 == 0:
                await asyncio.sleep(0.01)
        s.close()
        got = await play
        feeder.cancel()
        assert rtc.bad_datagrams >= 1000
        assert got.connected and got.video_frames >= 100 and got.audio_frames >= 100, got
        await pub.close()
    finally:
        await r.app.stop(graceful=False)
