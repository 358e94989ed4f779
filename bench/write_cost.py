"""The floor under any fan-out: CPU per TCP write on loopback, measured without a media server.

    .venv/bin/python bench/write_cost.py -n 2000 --size 2000 --period-ms 20 --seconds 5
    .venv/bin/python bench/write_cost.py -n 2000 --size 22000 --buffers 15 --period-ms 200

A writer process (pinned to CPU 0) holds N loopback TCP connections to a reader process (CPU 1)
that drains them the way bench/load.py's counting players do (epoll, SO_RCVLOWAT 8 KiB). Every
``--period-ms`` the writer sends ``--size`` bytes (in ``--buffers`` pieces, one ``sendmsg``) to
every connection, with plain blocking-free Python calls. It prints the writer's CPU (user and
system, from os.times) per write: the kernel's share is what no server can avoid per write, since
on loopback the receiver's TCP processing runs in the writer's system call too.
"""

from __future__ import annotations

import argparse
import os
import resource
import selectors
import socket
import sys
import time


def reader(listener: socket.socket, n: int, seconds: float) -> None:
    os.sched_setaffinity(0, {1})
    sel = selectors.EpollSelector()
    conns = []
    for _ in range(n):
        c, _ = listener.accept()
        c.setblocking(False)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 8192)
        sel.register(c, selectors.EVENT_READ)
        conns.append(c)
    buf = bytearray(1 << 18)
    end = time.monotonic() + seconds + 3
    while time.monotonic() < end:
        for key, _ in sel.select(0.1):
            try:
                key.fileobj.recv_into(buf)  # type: ignore[union-attr]
            except BlockingIOError:
                pass
    os._exit(0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=1000, help="connections")
    ap.add_argument("--size", type=int, default=2000, help="bytes per write")
    ap.add_argument("--buffers", type=int, default=1, help="pieces per write (writev)")
    ap.add_argument("--period-ms", type=float, default=20.0, help="one write per connection per period")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--nodelay", type=int, default=1, help="TCP_NODELAY on the writer's sockets")
    a = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    pid = os.fork()
    if pid == 0:
        reader(listener, a.n, a.seconds)
    os.sched_setaffinity(0, {0})
    socks = []
    for _ in range(a.n):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, a.nodelay)
        s.setblocking(False)
        socks.append(s)
    piece = b"x" * (a.size // a.buffers)
    data = [piece] * a.buffers
    time.sleep(1.0)
    t0, w0 = os.times(), time.monotonic()
    writes = 0
    nxt = w0
    period = a.period_ms / 1000
    while time.monotonic() - w0 < a.seconds:
        for s in socks:
            s.sendmsg(data)
        writes += a.n
        nxt += period
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)
    t1, wall = os.times(), time.monotonic() - w0
    user, system = t1.user - t0.user, t1.system - t0.system
    print(
        f"N={a.n} size={a.size} buffers={a.buffers} period={a.period_ms:g} ms nodelay={a.nodelay}: "
        f"{writes / wall:.0f} writes/s, writer CPU {(user + system) / wall * 100:.1f}% of a core, "
        f"per write {(user + system) / writes * 1e6:.1f} us (user {user / writes * 1e6:.1f}, "
        f"system {system / writes * 1e6:.1f})"
    )
    os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
