"""support.lossy.LossyRelay between two plain UDP sockets on loopback."""

from __future__ import annotations

import asyncio

from srs.protocol.rtc.ice import PacketKind
from support.lossy import Impairment, LossyRelay


class Sock(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[tuple[bytes, tuple[str, int]]] = []
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls) -> Sock:
        s = cls()
        t, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: s, local_addr=("127.0.0.1", 0)
        )
        s.transport = t
        return s

    @property
    def addr(self) -> tuple[str, int]:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")  # type: ignore[no-any-return]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.append((data, addr))


def dtls(i: int) -> bytes:
    return bytes([22, 0xFE, 0xFD]) + i.to_bytes(2, "big") + b"x" * 20


def rtp(i: int) -> bytes:
    return bytes([0x80, 96]) + i.to_bytes(2, "big") + b"\0" * 30


async def until(cond, timeout_s: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout_s / 0.01)):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timeout")


async def run(
    up: Impairment, down: Impairment, sent: list[bytes], seed: int = 1
) -> tuple[Sock, Sock, LossyRelay]:
    server, client = await Sock.open(), await Sock.open()
    relay = LossyRelay(server.addr, up=up, down=down, seed=seed)
    port = await relay.start()
    assert client.transport is not None
    for d in sent:
        client.transport.sendto(d, ("127.0.0.1", port))
        await asyncio.sleep(0.002)
    await asyncio.sleep(0.15)
    return server, client, relay


async def test_drop_nth_of_a_kind_and_answers_come_back() -> None:
    sent = [dtls(1), rtp(1), dtls(2), rtp(2), dtls(3)]
    server, client, relay = await run(Impairment(drop_nth={PacketKind.DTLS: {2}}), Impairment(), sent)
    assert [d for d, _ in server.got] == [dtls(1), rtp(1), rtp(2), dtls(3)]
    assert [e.index for e in relay.events("up", PacketKind.DTLS, "drop")] == [2]
    # the server answers the relay's upstream address; the client gets it from the relay's port
    assert server.transport is not None
    server.transport.sendto(b"\x01\x01answer", server.got[0][1])
    await until(lambda: client.got)
    assert client.got[0] == (b"\x01\x01answer", relay.address)
    await relay.close()


async def test_loss_duplicate_corrupt_are_seeded() -> None:
    sent = [rtp(i) for i in range(200)]
    imp = Impairment(loss=0.2, duplicate=0.1, corrupt=0.1)
    s1, _, r1 = await run(imp, Impairment(), sent, seed=5)
    s2, _, r2 = await run(imp, Impairment(), sent, seed=5)
    assert [d for d, _ in s1.got] == [d for d, _ in s2.got]
    st = r1.stats["up"]
    assert 10 < st["dropped"] < 80 and st["duplicated"] > 0 and st["corrupted"] > 0
    assert len(s1.got) == 200 - st["dropped"] + st["duplicated"]
    assert all(d[0] == 0x80 for d, _ in s1.got)  # corruption keeps the first byte (the kind)
    await r1.close()
    await r2.close()


async def test_reorder_and_delay() -> None:
    sent = [rtp(i) for i in range(6)]
    server, _, relay = await run(Impairment(reorder=1.0, delay_ms=20), Impairment(), sent)
    got = [int.from_bytes(d[2:4], "big") for d, _ in server.got]
    assert sorted(got) == list(range(6)) and got != list(range(6))
    assert got[:2] == [1, 0]
    await relay.close()


async def test_kinds_limit_the_random_impairments_and_mangle_rewrites() -> None:
    sent = [dtls(1), rtp(1), dtls(2), rtp(2)]
    imp = Impairment(
        duplicate=1.0,
        kinds={PacketKind.DTLS},
        mangle=lambda d, kind, i: d[:-1] + b"!" if kind == PacketKind.RTP and i == 2 else d,
    )
    server, _, relay = await run(imp, Impairment(), sent)
    got = [d for d, _ in server.got]
    assert got == [dtls(1), dtls(1), rtp(1), dtls(2), dtls(2), rtp(2)[:-1] + b"!"]
    assert relay.stats["up"]["duplicated"] == 2 and relay.stats["up"]["corrupted"] == 1
    assert [e.index for e in relay.events("up", PacketKind.RTP, "corrupt")] == [2]
    await relay.close()
