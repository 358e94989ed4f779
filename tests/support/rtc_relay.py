"""A tiny WHIP/WHEP server made of aiortc (MediaRelay), only to test the clients in support.rtc
and the browser pages without our server: ``POST /rtc/v1/whip/?app=&stream=`` (201 + Location),
``POST /rtc/v1/whep/?...``, ``DELETE /rtc/v1/session/<id>``, and SRS's JSON ``/rtc/v1/publish/``
and ``/rtc/v1/play/``. Unlike SRS it is not ICE-lite and re-encodes what it relays (aiortc decodes
every received track); it counts the frames each published stream delivered (``frames``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import Counter
from typing import Any
from urllib.parse import urlparse

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from support.rtc import loopback_ice


class RelayServer:
    def __init__(self) -> None:
        loopback_ice()
        self.relay = MediaRelay()
        self.tracks: dict[str, dict[str, MediaStreamTrack]] = {}
        self.frames: Counter[tuple[str, str]] = Counter()  # (stream, kind) -> frames received
        self.sizes: Counter[tuple[int, int]] = Counter()
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.deleted: list[str] = []
        self._ids = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/rtc/v1/whip/", self._whip)
        app.router.add_post("/rtc/v1/whep/", self._whep)
        app.router.add_post("/rtc/v1/publish/", self._legacy_publish)
        app.router.add_post("/rtc/v1/play/", self._legacy_play)
        app.router.add_delete("/rtc/v1/session/{id}", self._delete)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for pc in list(self.pcs.values()):
            await pc.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ sessions

    async def _count(self, stream: str, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame: Any = await track.recv()
                self.frames[(stream, track.kind)] += 1
                if track.kind == "video":
                    self.sizes[(frame.width, frame.height)] += 1

    async def _answer_publish(self, stream: str, offer: str) -> tuple[str, str]:
        pc = RTCPeerConnection()
        sid = str(next(self._ids))
        self.pcs[sid] = pc
        tracks = self.tracks.setdefault(stream, {})

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            tracks[track.kind] = track
            self._tasks.append(asyncio.ensure_future(self._count(stream, self.relay.subscribe(track))))

        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp, sid

    async def _answer_play(self, stream: str, offer: str) -> tuple[str, str] | None:
        tracks = self.tracks.get(stream)
        if not tracks:
            return None
        pc = RTCPeerConnection()
        sid = str(next(self._ids))
        self.pcs[sid] = pc
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        for track in tracks.values():
            pc.addTrack(self.relay.subscribe(track))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp, sid

    # ------------------------------------------------------------------ HTTP

    def _created(self, answer: str, sid: str) -> web.Response:
        return web.Response(
            status=201,
            text=answer,
            content_type="application/sdp",
            headers={"Location": f"/rtc/v1/session/{sid}", "Access-Control-Allow-Origin": "*"},
        )

    async def _whip(self, request: web.Request) -> web.Response:
        answer, sid = await self._answer_publish(request.query.get("stream", ""), await request.text())
        return self._created(answer, sid)

    async def _whep(self, request: web.Request) -> web.Response:
        got = await self._answer_play(request.query.get("stream", ""), await request.text())
        if got is None:
            return web.Response(status=404, text="no such stream")
        return self._created(*got)

    async def _legacy(self, request: web.Request, publish: bool) -> web.Response:
        req = json.loads(await request.text())
        stream = urlparse(req["streamurl"]).path.rsplit("/", 1)[-1]
        got = await (self._answer_publish if publish else self._answer_play)(stream, req["sdp"])
        if got is None:
            return web.json_response({"code": 5018})
        return web.json_response({"code": 0, "server": "relay", "sdp": got[0], "sessionid": got[1]})

    async def _legacy_publish(self, request: web.Request) -> web.Response:
        return await self._legacy(request, True)

    async def _legacy_play(self, request: web.Request) -> web.Response:
        return await self._legacy(request, False)

    async def _delete(self, request: web.Request) -> web.Response:
        pc = self.pcs.pop(request.match_info["id"], None)
        if pc is None:
            return web.Response(status=404)
        self.deleted.append(request.match_info["id"])
        await pc.close()
        return web.Response(status=200)
