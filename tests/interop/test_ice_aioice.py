"""Our ICE-lite responder against a full ICE agent nobody here wrote: aioice (aiortc's ICE) as the
controlling side checks our UDP candidate, nominates it, and then sends data that our table
attributes to the session by its address."""

from __future__ import annotations

import asyncio

import aioice
import pytest
from aioice import Candidate

from srs.protocol.rtc.ice import IceSession, IceSessions, PacketKind, classify

pytestmark = pytest.mark.interop


class Responder(asyncio.DatagramProtocol):
    def __init__(self, table: IceSessions) -> None:
        self.table = table
        self.transport: asyncio.DatagramTransport | None = None
        self.data: list[tuple[str, bytes]] = []  # (owner of the session, datagram) of non-STUN
        self.nominated = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        now = asyncio.get_running_loop().time()
        if classify(data) == PacketKind.STUN:
            answered = self.table.on_stun(data, addr, now)
            self.transport.sendto(answered.response, answered.source)
            if answered.nominated_now and not self.nominated.done():
                self.nominated.set_result(answered.source)
            return
        session = self.table.by_address(addr)
        self.data.append((str(session.owner) if session else "?", data))


async def test_aioice_connects_to_our_ice_lite_port() -> None:
    loop = asyncio.get_running_loop()
    table = IceSessions()
    client = aioice.Connection(ice_controlling=True, components=1, use_ipv6=False)
    server_ufrag, server_pwd = "srvufrag", "s" * 32
    table.add(IceSession(server_ufrag, server_pwd, client.local_username, owner="pc-1"), loop.time())
    transport, responder = await loop.create_datagram_endpoint(
        lambda: Responder(table), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    try:
        await client.gather_candidates()
        client.remote_username, client.remote_password = server_ufrag, server_pwd
        client.remote_is_lite = True
        await client.add_remote_candidate(
            Candidate(
                foundation="1",
                component=1,
                transport="udp",
                priority=2130706431,
                host="127.0.0.1",
                port=port,
                type="host",
            )
        )
        await client.add_remote_candidate(None)
        await asyncio.wait_for(client.connect(), 10)
        address = await asyncio.wait_for(responder.nominated, 5)
        session = table.by_ufrag(server_ufrag)
        assert session is not None and session.nominated and session.address == address
        await client.send(b"\x80\x60" + bytes(20))  # an RTP-looking datagram over the pair
        for _ in range(50):
            if responder.data:
                break
            await asyncio.sleep(0.02)
        assert responder.data == [("pc-1", b"\x80\x60" + bytes(20))]
    finally:
        await client.close()
        transport.close()
