"""What Chromium does that our other WebRTC clients did not, each once broke the server.

1. Before nomination, the server answers DTLS on the address the client's DTLS came from.
   Chromium checks the server's candidate from every local interface; the first binding request
   may come from an address the client never hears back from (on one host our reply to its eth0
   candidate leaves with another source address). Chromium then sends its DTLS ClientHello on the
   pair it selected, before the USE-CANDIDATE check. The session's path was still the first checked
   address, so the server's flight went there and the client waited a 1 s retransmit (every
   Chromium connect took a second more). Here: a binding from a decoy socket first, then a binding
   and a ClientHello from the client socket, no USE-CANDIDATE at all: the server's DTLS must reach
   the client socket and the handshake complete, and the decoy must get no DTLS.
2. Chromium's ICE ufrags contain ``+`` (and ``/``); the session id in the WHIP/WHEP ``Location`` is
   ``<server ufrag>:<client ufrag>``. A raw ``+`` in that query came back as a space, so the
   client's DELETE (the Location, verbatim) was refused and the session lingered.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from urllib.parse import urljoin

import aiohttp
from aioice import stun

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from srs.protocol.rtc.dtls import DtlsEndpoint
from srs.protocol.rtc.ice import PacketKind, classify
from whep_client import WhepSession, parse_answer

from .conftest import start_app

RTC_SERVER = "rtc_server { enabled on; listen 0; candidate 127.0.0.1; }"
VHOST = "rtc { enabled on; rtmp_to_rtc on; }"


class Sock(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.put_nowait(data)

    async def next(self, kind: PacketKind, timeout_s: float = 5.0) -> bytes:
        async with asyncio.timeout(timeout_s):
            while True:
                data = await self.got.get()
                if classify(data) == kind:
                    return data

    def kinds(self) -> list[PacketKind]:
        out = []
        while not self.got.empty():
            out.append(classify(self.got.get_nowait()))
        return out


def binding(server_ufrag: str, server_pwd: str, client_ufrag: str) -> bytes:
    """A controlling binding request without USE-CANDIDATE (a plain check)."""
    msg = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    msg.attributes["USERNAME"] = f"{server_ufrag}:{client_ufrag}"
    msg.attributes["PRIORITY"] = 1853824767
    msg.attributes["ICE-CONTROLLING"] = int.from_bytes(os.urandom(8), "big")
    msg.add_message_integrity(server_pwd.encode())
    msg.add_fingerprint()
    return bytes(msg)


async def test_dtls_answered_on_the_pair_the_client_sends_it_on(tmp_path: Path) -> None:
    r = await start_app(tmp_path, vhost_body=VHOST, extra=RTC_SERVER)
    loop = asyncio.get_running_loop()
    socks: list[asyncio.DatagramTransport] = []
    try:
        client = WhepSession()
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{r.ports.api}/rtc/v1/whep/?app=live&stream=dtls"
            a = parse_answer(await client.signal(http, url))
        decoy, me = Sock(), Sock()
        for s in (decoy, me):
            t, _ = await loop.create_datagram_endpoint(lambda s=s: s, remote_addr=a.candidate)  # type: ignore[misc]
            socks.append(t)
        check = binding(a.ufrag, a.pwd, client.ufrag)
        decoy.transport.sendto(check)  # type: ignore[union-attr]
        await decoy.next(PacketKind.STUN)  # the first checked address: the session's path so far
        me.transport.sendto(check)  # type: ignore[union-attr]
        await me.next(PacketKind.STUN)
        dtls = DtlsEndpoint(client.cert, "client", a.fingerprint)
        for d in dtls.start():
            me.transport.sendto(d)  # type: ignore[union-attr]
        while dtls.keys is None:
            data = await me.next(PacketKind.DTLS)  # without the fix: it went to the decoy
            for d in dtls.receive(data):
                me.transport.sendto(d)  # type: ignore[union-attr]
        await asyncio.sleep(0.2)
        assert PacketKind.DTLS not in decoy.kinds()
    finally:
        for t in socks:
            t.close()
        await r.app.stop(graceful=False)


async def test_delete_by_location_with_plus_and_slash_in_the_client_ufrag(tmp_path: Path) -> None:
    r = await start_app(tmp_path, vhost_body=VHOST, extra=RTC_SERVER)
    try:
        client = WhepSession()
        client.ufrag = "Ab+/c+D9"
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{r.ports.api}/rtc/v1/whep/?app=live&stream=plus"
            await client.signal(http, url)
            assert client.location is not None
            async with http.delete(urljoin(url, client.location)) as resp:
                assert resp.status == 200
        assert len(r.ctx.rtc.sessions) == 0
    finally:
        await r.app.stop(graceful=False)
