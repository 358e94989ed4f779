"""An impairing UDP relay for loopback tests: client <-> relay <-> server.

    relay = LossyRelay(("127.0.0.1", 8000), up=Impairment(loss=0.05), down=Impairment(
        drop_nth={PacketKind.DTLS: {1}}), seed=7)
    port = await relay.start()          # clients send to 127.0.0.1:port instead of the server
    ...; relay.stats["down"][PacketKind.DTLS]; await relay.close()

Each client address gets its own upstream socket, so the server sees one address per client (as
through a NAT). Per direction (``up`` = client -> server, ``down`` = server -> client) an
:class:`Impairment` drops, delays, reorders, duplicates and corrupts datagrams with a seeded
``random.Random`` (the same seed and the same traffic give the same decisions), and drops exact
datagrams: ``drop_nth={PacketKind.DTLS: {2}}`` drops the second DTLS datagram of that direction
(the kind comes from ``srs.protocol.rtc.ice.classify``: STUN, DTLS, RTP, RTCP), or any predicate
``drop_if(datagram, kind, index_of_kind)``. Dropping the datagrams of one DTLS flight (see
``log``) makes the peer resend it on its timer. ``kinds`` limits the random impairments (loss,
reordering, duplication, corruption, delay) to some kinds: ``Impairment(duplicate=1.0,
kinds={PacketKind.DTLS})`` doubles every DTLS datagram and leaves the media alone. ``mangle``
rewrites chosen datagrams exactly (``mangle(datagram, kind, index_of_kind)`` returns the bytes to
send, logged as "corrupt" when they differ), e.g. a DTLS record header made invalid.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from srs.protocol.rtc.ice import PacketKind, classify

Address = tuple[str, int]
REORDER_HOLD_S = 0.05  # a held datagram goes out after the next one, or after this long


@dataclass
class Impairment:
    loss: float = 0.0  # probability a datagram is dropped
    reorder: float = 0.0  # probability a datagram is held back and sent after the next one
    duplicate: float = 0.0  # probability a datagram is sent twice
    corrupt: float = 0.0  # probability one byte (not the first: the kind stays) is flipped
    delay_ms: float = 0.0  # added to every datagram
    jitter_ms: float = 0.0  # plus uniform 0..jitter_ms (this alone can reorder)
    drop_nth: dict[PacketKind, set[int]] = field(default_factory=dict)  # 1-based index per kind
    drop_if: Callable[[bytes, PacketKind, int], bool] | None = None
    kinds: set[PacketKind] | None = None  # the random impairments hit these kinds only (None: all)
    mangle: Callable[[bytes, PacketKind, int], bytes] | None = None


@dataclass(frozen=True)
class Event:
    direction: str  # "up" | "down"
    kind: PacketKind
    index: int  # 1-based, per direction and kind
    size: int
    action: str  # "pass" | "drop" | "hold" | "dup" | "corrupt"


class _Direction:
    def __init__(self, name: str, imp: Impairment, rng: random.Random, relay: LossyRelay) -> None:
        self.name = name
        self.imp = imp
        self.rng = rng
        self.relay = relay
        self.counts: Counter[PacketKind] = Counter()
        self.held: tuple[bytes, Callable[[bytes], None], asyncio.TimerHandle] | None = None

    def process(self, data: bytes, send: Callable[[bytes], None]) -> None:
        imp, rng = self.imp, self.rng
        kind = classify(data)
        self.counts[kind] += 1
        index = self.counts[kind]
        log = self.relay.log
        # every decision draws from the generator in a fixed order: same seed, same outcome
        r_loss, r_corrupt, r_dup, r_reorder = rng.random(), rng.random(), rng.random(), rng.random()
        if imp.kinds is not None and kind not in imp.kinds:
            r_loss = r_corrupt = r_dup = r_reorder = 1.0  # spared (the draws above keep the sequence)
        if (
            index in imp.drop_nth.get(kind, ())
            or (imp.drop_if is not None and imp.drop_if(data, kind, index))
            or r_loss < imp.loss
        ):
            log.append(Event(self.name, kind, index, len(data), "drop"))
            self.relay.stats[self.name]["dropped"] += 1
            return
        if imp.mangle is not None:
            mangled = imp.mangle(data, kind, index)
            if mangled != data:
                data = mangled
                log.append(Event(self.name, kind, index, len(data), "corrupt"))
                self.relay.stats[self.name]["corrupted"] += 1
        if r_corrupt < imp.corrupt and len(data) > 1:
            pos = rng.randrange(1, len(data))
            data = data[:pos] + bytes([data[pos] ^ (1 + rng.randrange(255))]) + data[pos + 1 :]
            log.append(Event(self.name, kind, index, len(data), "corrupt"))
            self.relay.stats[self.name]["corrupted"] += 1
        copies = 2 if r_dup < imp.duplicate else 1
        if copies == 2:
            log.append(Event(self.name, kind, index, len(data), "dup"))
            self.relay.stats[self.name]["duplicated"] += 1
        for _ in range(copies):
            self._delayed(data, send, kind, index, r_reorder < imp.reorder)

    def _delayed(
        self, data: bytes, send: Callable[[bytes], None], kind: PacketKind, index: int, hold: bool
    ) -> None:
        delay = (self.imp.delay_ms + self.rng.uniform(0, self.imp.jitter_ms)) / 1000
        if self.imp.kinds is not None and kind not in self.imp.kinds:
            delay = 0.0
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._out, data, send, kind, index, hold)
        else:
            self._out(data, send, kind, index, hold)

    def _out(
        self, data: bytes, send: Callable[[bytes], None], kind: PacketKind, index: int, hold: bool
    ) -> None:
        previous = self.held
        if hold and previous is None:
            timer = asyncio.get_running_loop().call_later(REORDER_HOLD_S, self._release)
            self.held = (data, send, timer)
            self.relay.log.append(Event(self.name, kind, index, len(data), "hold"))
            self.relay.stats[self.name]["reordered"] += 1
            return
        self.relay.log.append(Event(self.name, kind, index, len(data), "pass"))
        self.relay.stats[self.name][kind] += 1
        send(data)
        self._release()

    def _release(self) -> None:
        if self.held is not None:
            data, send, timer = self.held
            self.held = None
            timer.cancel()
            send(data)


class _Upstream(asyncio.DatagramProtocol):
    """The relay's socket towards the server for one client."""

    def __init__(self, relay: LossyRelay, client: Address) -> None:
        self.relay = relay
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.relay._down.process(data, self._to_client)

    def _to_client(self, data: bytes) -> None:
        if self.relay._front is not None:
            self.relay._front.sendto(data, self.client)


class _Front(asyncio.DatagramProtocol):
    def __init__(self, relay: LossyRelay) -> None:
        self.relay = relay

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.relay._from_client(data, addr)


class LossyRelay:
    def __init__(
        self,
        server: Address,
        *,
        up: Impairment | None = None,
        down: Impairment | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.server = server
        self.host = host
        self.up = up or Impairment()
        self.down = down or Impairment()
        self.log: list[Event] = []
        self.stats: dict[str, Counter[object]] = {
            "up": Counter(),
            "down": Counter(),
        }  # sent per kind + actions
        self._up = _Direction("up", self.up, random.Random(seed), self)
        self._down = _Direction("down", self.down, random.Random(seed + 1), self)
        self._front: asyncio.DatagramTransport | None = None
        self._clients: dict[Address, _Upstream] = {}
        self._pending: dict[Address, list[bytes]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.port = 0

    async def start(self) -> int:
        """Listen on ``host``: the port clients send to."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Front(self), local_addr=(self.host, 0))
        self._front = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self.port

    @property
    def address(self) -> Address:
        return (self.host, self.port)

    def _from_client(self, data: bytes, addr: Address) -> None:
        up = self._clients.get(addr)
        if up is not None and up.transport is not None:
            self._up.process(data, up.transport.sendto)
            return
        pending = self._pending.get(addr)
        if pending is not None:  # the upstream socket is being opened
            pending.append(data)
            return
        self._pending[addr] = [data]
        self._tasks.append(asyncio.ensure_future(self._open(addr)))

    async def _open(self, client: Address) -> None:
        loop = asyncio.get_running_loop()
        up = _Upstream(self, client)
        transport, _ = await loop.create_datagram_endpoint(lambda: up, remote_addr=self.server)
        up.transport = transport
        self._clients[client] = up
        for data in self._pending.pop(client, []):
            self._up.process(data, transport.sendto)

    async def close(self) -> None:
        for d in (self._up, self._down):
            d._release()
        for up in self._clients.values():
            if up.transport is not None:
                up.transport.close()
        if self._front is not None:
            self._front.close()

    def events(
        self, direction: str, kind: PacketKind | None = None, action: str | None = None
    ) -> list[Event]:
        return [
            e
            for e in self.log
            if e.direction == direction
            and (kind is None or e.kind == kind)
            and (action is None or e.action == action)
        ]
