"""SRS's send timeout for players: a connection whose writes make no progress for a while is ended.

SRS writes with a 30 s send timeout (``SRS_CONSTS_RTMP_TIMEOUT``): a player that stops reading
blocks the write, which fails after 30 s and ends the connection. Our writes never block; bytes wait
in the transport's buffer (the Source stops handing a player more once it holds
:data:`WRITE_HIGH_WATER`, so a stalled player's user-space buffer stays bounded). Progress is
measured as bytes handed to the kernel: everything written minus what the transport still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

_LINGER_RESET = struct.pack("ii", 1, 0)

# A player whose transport holds more than this gets no more from the Source: it waits in the ring
# (which drops whole GOPs for it past queue_length). It bounds what a stalled player costs us.
WRITE_HIGH_WATER = 256 << 10


def reset(transport: asyncio.Transport) -> None:
    """End a stalled connection now and free what it pins: user-space and kernel buffers.

    ``abort()`` alone drops our buffer, but the kernel keeps the socket's unsent bytes (megabytes)
    and goes on offering them to a peer that never reads; with ``SO_LINGER`` 0 the close is a
    reset and the kernel drops them too.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()


class SendProgress:
    """Tracks one connection's write progress; :meth:`stalled` says when it made none for too long.

    Progress is an empty buffer, or bytes handed to the kernel while the buffer is below the
    high-water mark: a peer that takes a trickle while its backlog stays full (the Source has
    stopped feeding it) is not keeping up either, and goes after the same timeout.
    """

    __slots__ = ("_flushed", "_since")

    def __init__(self, now: float = 0.0) -> None:
        self._flushed = -1
        self._since = now

    def restart(self, now: float) -> None:
        """Watching starts (again) now: a stall is counted from here, not from an old check."""
        self._flushed = -1
        self._since = now

    def stalled(self, now: float, written: int, buffered: int, timeout_s: float, high_water: int) -> bool:
        """``written``: bytes ever written to the transport; ``buffered``: bytes it still holds."""
        flushed = written - buffered
        moved = flushed != self._flushed
        self._flushed = flushed
        if buffered == 0 or (moved and buffered < high_water):
            self._since = now
            return False
        return now - self._since >= timeout_s
