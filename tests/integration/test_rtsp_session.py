"""RTSP sessions against the in-process server: the request state machine (OPTIONS, DESCRIBE,
SETUP over TCP and UDP, PLAY, PAUSE, GET_PARAMETER, TEARDOWN; 404/454/455/459/461), RTP arriving
interleaved, the client in the stats API as rtsp-play, and a kick ending it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from srs.protocol.rtsp.message import Interleaved, RtspMessage, RtspParser, serialize_request
from support.media import clip
from support.net import free_port
from support.rtmp_client import RtmpClient, flv_tags

from .conftest import start_app

VHOST = "rtsp { enabled on; rtmp_to_rtsp on; }"
AV = flv_tags(clip("bbb.flv"))[:400]


class Rtsp:
    """A raw RTSP client on one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = RtspParser()
        self.cseq = 0
        self.frames: list[Interleaved] = []
        self.pending: list[RtspMessage] = []

    @classmethod
    async def open(cls, port: int) -> Rtsp:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def ask(self, method: str, uri: str, **headers: str) -> RtspMessage:
        self.cseq += 1
        h = {k.replace("_", "-"): v for k, v in headers.items()}
        self.writer.write(serialize_request(method, uri, self.cseq, h))
        while True:
            for m in self.pending:
                if m.cseq == self.cseq:
                    self.pending.remove(m)
                    return m
            data = await asyncio.wait_for(self.reader.read(65536), 10)
            assert data, f"connection closed waiting for {method}"
            for it in self.parser.feed(data):
                if isinstance(it, Interleaved):
                    self.frames.append(it)
                else:
                    self.pending.append(it)

    async def read_frames(self, n: int) -> list[Interleaved]:
        while len(self.frames) < n:
            data = await asyncio.wait_for(self.reader.read(65536), 10)
            assert data, "connection closed"
            for it in self.parser.feed(data):
                if isinstance(it, Interleaved):
                    self.frames.append(it)
        return self.frames

    async def closed(self) -> bool:
        try:
            while await asyncio.wait_for(self.reader.read(65536), 10):
                pass
        except (ConnectionError, TimeoutError):
            return False
        return True

    def close(self) -> None:
        self.writer.close()


async def test_session_state_machine_stats_and_kick(tmp_path: Path) -> None:
    port = free_port()
    r = await start_app(tmp_path, vhost_body=VHOST, extra=f"rtsp_server {{ enabled on; listen {port}; }}")
    try:
        url = f"rtsp://127.0.0.1:{port}/live/s"
        c = await Rtsp.open(port)
        opt = await c.ask("OPTIONS", url)
        assert opt.status == 200 and "PLAY" in opt.headers["public"]
        assert (await c.ask("DESCRIBE", url)).status == 404  # before publish (SRS: no track)
        assert (await c.ask("PLAY", url)).status == 455
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("s")
        await pub.send_tags(AV[:60])
        d = await c.ask("DESCRIBE", url, Accept="application/sdp")
        assert d.status == 200 and d.headers["content-type"] == "application/sdp"
        sdp = d.body.decode()
        assert "m=audio 0 RTP/AVP 97" in sdp and "MPEG4-GENERIC" in sdp and "H264/90000" in sdp
        session = d.session
        assert (await c.ask("SETUP", url, Transport="RTP/AVP/TCP;interleaved=0-1")).status == 459
        bad = await c.ask(
            "SETUP", url + "/trackID=0", Transport="RTP/AVP/TCP;interleaved=0-1", Session="nope"
        )
        assert bad.status == 454
        raw = await c.ask("SETUP", url + "/trackID=0", Transport="RAW/RAW/UDP;unicast")
        assert raw.status == 461
        a = await c.ask("SETUP", url + "/trackID=0", Transport="RTP/AVP/TCP;interleaved=0-1", Session=session)
        assert a.status == 200 and a.headers["transport"].endswith("interleaved=0-1")
        udp_port = free_port()
        v = await c.ask(
            "SETUP",
            url + "/trackID=1",
            Transport=f"RTP/AVP;unicast;client_port={udp_port}-{udp_port + 1}",
            Session=session,
        )
        assert v.status == 200 and "server_port=" in v.headers["transport"]
        # video to UDP, audio interleaved: replace the video with TCP for the rest of the test
        v = await c.ask("SETUP", url + "/trackID=1", Transport="RTP/AVP/TCP;interleaved=2-3", Session=session)
        assert v.status == 200
        p = await c.ask("PLAY", url, Session=session)
        assert p.status == 200 and "trackID=1" in p.headers["rtp-info"]
        await pub.send_tags(AV[60:200])
        frames = await c.read_frames(50)
        assert {f.channel for f in frames} >= {0, 2}
        assert all(f.data[1] & 0x7F in (96, 97) for f in frames if f.channel in (0, 2))
        assert (await c.ask("GET_PARAMETER", url, Session=session)).status == 200
        assert (await c.ask("PAUSE", url, Session=session)).status == 200
        assert (await c.ask("PLAY", url, Session=session)).status == 200
        async with aiohttp.ClientSession() as http:
            api = f"http://127.0.0.1:{r.ports.api}/api/v1/clients/?count=100"
            clients = (await (await http.get(api)).json())["clients"]
            mine = [x for x in clients if x["type"] == "rtsp-play"]
            assert len(mine) == 1 and mine[0]["url"] == "/live/s"
            kick = await http.delete(f"http://127.0.0.1:{r.ports.api}/api/v1/clients/{mine[0]['id']}")
            assert kick.status == 200
        assert await c.closed()
        c.close()
        # TEARDOWN ends a session and its connection
        c2 = await Rtsp.open(port)
        d2 = await c2.ask("DESCRIBE", url)
        await c2.ask("SETUP", url + "/trackID=1", Transport="RTP/AVP/TCP;interleaved=0-1", Session=d2.session)
        await c2.ask("PLAY", url, Session=d2.session)
        t = await c2.ask("TEARDOWN", url, Session=d2.session)
        assert t.status == 200  # the session ends, the connection stays for more requests (as SRS)
        assert (await c2.ask("PAUSE", url, Session=d2.session)).status == 200  # nothing to pause
        assert (await c2.ask("PLAY", url, Session=d2.session)).status == 455
        assert r.ctx.registry.find("/live/s") is not None and not any(
            c.kind == "rtsp-play" and c.consumer is not None for c in r.ctx.connections.values()
        )
        c2.close()
        await pub.close()
    finally:
        await r.app.stop(graceful=False)
