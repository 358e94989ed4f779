"""In-memory helpers for tests and tools: deterministic randomness and a client<->server loopback.

Nothing here does I/O; :class:`Loopback` moves bytes between a :class:`ClientSession` and a
:class:`ServerSession` and plays the caller's part on the server (accept connect/play/publish).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from srs.protocol.rtmp.client import ClientSession
from srs.protocol.rtmp.events import ConnectRequested, Event, PlayRequested, PublishRequested
from srs.protocol.rtmp.server import ServerSession

EPOCH_MS = 1_700_000_000_000


def seeded_random(seed: int = 0) -> Callable[[int], bytes]:
    """A deterministic ``random_bytes`` (SHA-256 in counter mode)."""
    state = {"n": 0}

    def random_bytes(n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            out += hashlib.sha256(f"{seed}:{state['n']}".encode()).digest()
            state["n"] += 1
        return bytes(out[:n])

    return random_bytes


@dataclass
class Loopback:
    """A client and a server session wired back to back, with an accepting server application."""

    client: ClientSession
    server: ServerSession
    chunk_size: int = 60000
    out_ack_size: int = 2_500_000
    auto_accept: bool = True
    server_events: list[Event] = field(default_factory=list)
    client_events: list[Event] = field(default_factory=list)
    server_bytes: int = 0  # bytes the server sent
    client_bytes: int = 0

    @classmethod
    def create(
        cls,
        *,
        complex_handshake: bool = True,
        seed: int = 0,
        chunk_size: int = 60000,
        out_ack_size: int = 2_500_000,
        auto_accept: bool = True,
        max_message_size: int = 16 << 20,
    ) -> Loopback:
        client = ClientSession(
            random_bytes=seeded_random(seed),
            epoch_ms=EPOCH_MS,
            complex_handshake=complex_handshake,
            max_message_size=max_message_size,
        )
        server = ServerSession(
            random_bytes=seeded_random(seed + 1), epoch_ms=EPOCH_MS, max_message_size=max_message_size
        )
        return cls(client, server, chunk_size=chunk_size, out_ack_size=out_ack_size, auto_accept=auto_accept)

    def _on_server_events(self, events: list[Event]) -> None:
        for e in events:
            self.server_events.append(e)
            if not self.auto_accept:
                continue
            if isinstance(e, ConnectRequested):
                self.server.accept_connect(
                    chunk_size=self.chunk_size,
                    out_ack_size=self.out_ack_size,
                    server_ip="127.0.0.1",
                    client_id="k3y0n2x7",
                    pid=4242,
                )
            elif isinstance(e, PlayRequested):
                self.server.start_play()
            elif isinstance(e, PublishRequested):
                self.server.accept_publish()
            else:
                continue
            self._on_server_events(self.server.pending_events())

    def pump(self, *, step: int | None = None) -> tuple[list[Event], list[Event]]:
        """Move bytes both ways until nothing is left; return (server events, client events) of this pump.

        ``step`` splits every transfer into pieces of that many bytes (to exercise partial input).
        """
        s0, c0 = len(self.server_events), len(self.client_events)
        while True:
            moved = False
            for data in self.client.data_to_send():
                moved = True
                self.client_bytes += len(data)
                for piece in _pieces(data, step):
                    self._on_server_events(self.server.receive_data(piece))
            for data in self.server.data_to_send():
                moved = True
                self.server_bytes += len(data)
                for piece in _pieces(data, step):
                    self.client_events.extend(self.client.receive_data(piece))
            if not moved:
                return self.server_events[s0:], self.client_events[c0:]


def _pieces(data: bytes, step: int | None) -> list[bytes]:
    if not step:
        return [data]
    return [data[i : i + step] for i in range(0, len(data), step)]
