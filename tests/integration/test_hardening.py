"""Hostile clients (issue 8): none may stall the server, exhaust its memory or descriptors, or
forge its log. Each attack is a small scripted client against the real server on loopback, while a
good publisher and player keep streaming."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from pathlib import Path

import psutil

from srs.protocol.rtmp.chunk import encode_message
from srs.protocol.rtmp.message import Command, MessageType
from support.rtmp_client import RtmpClient
from support.server import Ports, SrsProcess, render_conf

from .conftest import start_app
from .test_bad_input import AV, Stream, closed_within, handshaken


def connect_bytes(tc_url: str, chunk_size: int = 128) -> bytes:
    body = Command("connect", 1.0, {"app": "live", "tcUrl": tc_url}, ()).encode()
    return encode_message(3, 0, MessageType.AMF0_COMMAND, 0, body, chunk_size)


async def http_raw(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    return reader, writer


# ---------------------------------------------------------------- 1. a long tcUrl


async def test_long_tcurl_is_refused_at_its_header(tmp_path: Path) -> None:
    """A 15 MB connect used to be read whole and parsed on the loop (1.5 s per connect)."""
    r = await start_app(tmp_path)
    r.ctx.identify_timeout_s = 30.0
    try:
        async with Stream(r, looped=True) as good:

            async def attack() -> tuple[bool, int]:
                reader, writer = await handshaken(r.ports.rtmp)
                data = connect_bytes("rtmp://127.0.0.1/live?" + "a" * (15 << 20))
                sent = 0
                try:
                    for i in range(0, len(data), 1 << 16):
                        writer.write(data[i : i + (1 << 16)])
                        await writer.drain()
                        sent = i
                except ConnectionError:
                    pass
                closed = await closed_within(reader, 5)
                writer.close()
                return closed, sent

            results = await asyncio.gather(*(attack() for _ in range(5)))
            for closed, sent in results:
                assert closed
                assert sent < len(connect_bytes("x" * (15 << 20))) - (1 << 20), "the server read it all"
            assert r.ctx.registry.find("/live/good") is not None
            await good.still_flowing()
    finally:
        await r.app.stop(graceful=False)


# ---------------------------------------------------------------- 2. memory before login


async def test_partial_messages_before_login_are_bounded(tmp_path: Path) -> None:
    """20 anonymous connections, each starting big messages on many chunk streams, used to hold
    32 MB each; now each is closed past 128 KiB and the shared budget is back to zero."""
    r = await start_app(tmp_path)
    r.ctx.identify_timeout_s = 30.0  # the limit closes them, not the identify timeout
    proc = psutil.Process()
    try:
        async with Stream(r, looped=True) as good:
            before = proc.memory_info().rss

            async def attack() -> bool:
                reader, writer = await handshaken(r.ports.rtmp)
                writer.write(
                    encode_message(2, 0, MessageType.SET_CHUNK_SIZE, 0, struct.pack(">I", 4096), 128)
                )
                whole = encode_message(4, 0, MessageType.VIDEO, 1, bytes(60_000), 4096)
                part = whole[: 12 + 4096 + 8 * 4097]  # about half of each 60 KB message
                try:
                    for csid in range(4, 64):
                        writer.write(bytes([csid]) + part[1:])
                        await writer.drain()
                except ConnectionError:
                    return True
                closed = await closed_within(reader, 5)
                writer.close()
                return closed

            assert all(await asyncio.gather(*(attack() for _ in range(20))))
            grown = proc.memory_info().rss - before
            assert grown < 48 << 20, f"RSS grew by {grown >> 20} MiB"
            await asyncio.sleep(0.2)
            assert r.ctx.rtmp_budget.used < 1 << 20  # only the good publisher's partial message, if any
            await good.still_flowing()
    finally:
        await r.app.stop(graceful=False)


# ---------------------------------------------------------------- 3. idle and slow HTTP connections


async def test_http_connections_count_toward_max_connections(tmp_path: Path) -> None:
    """Every connection counts (SRS); when full, an idle one makes room for a newcomer (ours), and
    only when all are players, publishers or requests in progress is the newcomer refused."""
    r = await start_app(tmp_path, max_connections=4)
    try:
        idle = [await asyncio.open_connection("127.0.0.1", r.ports.http) for _ in range(4)]
        await asyncio.sleep(0.2)
        assert len(r.ctx.connections) == 4
        pub = await RtmpClient.open(r.ports.rtmp)  # admitted: the oldest idle HTTP socket goes
        await pub.publish("s")
        assert await closed_within(idle[0][0], 3)
        players = []
        for _ in range(3):
            c = await RtmpClient.open(r.ports.rtmp)
            await c.play("s")
            players.append(c)
        for reader, _ in idle[1:]:
            assert await closed_within(reader, 3)
        # Full of clients that are being served: a newcomer is refused, RTMP or HTTP.
        reader, writer = await asyncio.open_connection("127.0.0.1", r.ports.rtmp)
        writer.write(b"\x03" + os.urandom(1536))
        assert await closed_within(reader, 3)
        writer.close()
        reader, writer = await http_raw(r.ports.api, b"GET /api/v1/versions HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await closed_within(reader, 3)
        writer.close()
        assert all(not c.closed.is_set() for c in [pub, *players])
        for c in players:
            await c.close()
        await asyncio.sleep(0.3)
        reader, writer = await http_raw(r.ports.api, b"GET /api/v1/versions HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")  # slots are free again
        writer.close()
        for _, w in idle:
            w.close()
        await pub.close()
    finally:
        await r.app.stop(graceful=False)


async def test_idle_and_slowloris_http_connections_are_closed(tmp_path: Path) -> None:
    """SRS's HTTP receive timeout (15 s): a request must complete its headers in time, and an idle
    keep-alive connection goes too. An HTTP-FLV player that is being served stays."""
    r = await start_app(tmp_path)
    try:
        async with Stream(r, looped=True) as good:
            t0 = time.monotonic()
            slow = [
                await http_raw(r.ports.http, b"GET /live/good.flv HTTP/1.1\r\nHost: x\r\n") for _ in range(20)
            ]
            idle = []
            for _ in range(20):
                reader, writer = await http_raw(
                    r.ports.api, b"GET /api/v1/versions HTTP/1.1\r\nHost: x\r\n\r\n"
                )
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                assert head.startswith(b"HTTP/1.1 200")
                idle.append((reader, writer))
            silent = [await asyncio.open_connection("127.0.0.1", r.ports.http) for _ in range(20)]
            flv_reader, flv_writer = await http_raw(
                r.ports.http, b"GET /live/good.flv HTTP/1.1\r\nHost: x\r\n\r\n"
            )

            async def drip(writer: asyncio.StreamWriter) -> None:
                for _ in range(30):  # one header byte a second never finishes the request
                    await asyncio.sleep(1)
                    writer.write(b"X")

            drips = [asyncio.ensure_future(drip(w)) for _, w in slow]
            results = await asyncio.gather(*(closed_within(rd, 22) for rd, _ in slow + idle + silent))
            assert all(results), f"{results.count(False)} connections still open"
            assert time.monotonic() - t0 >= 14  # no earlier than SRS's 15 s
            for d in drips:
                d.cancel()
            # The player kept receiving all along.
            got = await asyncio.wait_for(flv_reader.read(65536), 5)
            assert got
            flv_writer.close()
            await good.still_flowing()
    finally:
        await r.app.stop(graceful=False)


# ---------------------------------------------------------------- 4. players that never read


async def test_stalled_players_are_ended_by_the_send_timeout(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    r.ctx.send_timeout_s = 2.0  # SRS's is 30 s; the mechanism is the same
    try:
        good = await RtmpClient.open(r.ports.rtmp)
        await good.play("s")

        def small_socket() -> socket.socket:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setblocking(False)
            return s

        stalled = []
        for _ in range(3):
            sock = small_socket()
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", r.ports.rtmp))
            c = await RtmpClient.open(r.ports.rtmp, sock=sock)
            await c.play("s")
            c.stop_reading()
            stalled.append(c)
        flv_stalled = []
        for _ in range(3):
            sock = small_socket()
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", r.ports.http))
            sock.send(b"GET /live/s.flv HTTP/1.1\r\nHost: x\r\n\r\n")
            flv_stalled.append(sock)
        await asyncio.sleep(0.3)
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("s")
        # Far more than the socket buffers hold: ~13 MB, as fast as the server takes it.
        span = AV[-1].timestamp + 40
        for loop_no in range(30):
            for t in AV:
                pub.send(t.tag_type, t.timestamp + loop_no * span, t.body)
            await pub.writer.drain()
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(r.ctx.connections) > 2:
            await asyncio.sleep(0.2)
        kinds = sorted(c.kind for c in r.ctx.connections.values())
        assert kinds == ["fmle-publish", "rtmp-play"], kinds  # the good ones stay
        assert not good.closed.is_set()
        # The close was a reset: what the server had buffered for them is gone, kernel included.
        for sock in flv_stalled:
            sock.setblocking(True)
            sock.settimeout(5)
            got, reset = 0, False
            try:
                while chunk := sock.recv(65536):
                    got += len(chunk)
            except ConnectionResetError:
                reset = True
            assert reset and got < 1 << 20, (reset, got)
            sock.close()
        for c in stalled:
            await c.close()
        await pub.close()
        await good.close()
    finally:
        await r.app.stop(graceful=False)


# ---------------------------------------------------------------- 5, 6, 7: the log (real CLI process)


def test_log_cannot_be_forged_and_floods_are_summarised(tmp_path: Path) -> None:
    ports = Ports()
    api = f"    listen          {ports.api};\n}}"
    conf = render_conf(ports, max_connections=5).replace(
        api, api[:-1] + "    raw_api { enabled on; }\n    auth { enabled on; username a; password b; }\n}"
    )
    assert "raw_api" in conf
    srs = SrsProcess(tmp_path, conf, ports).start()
    try:
        srs.wait_log("listen")

        async def attack() -> None:
            # 5. forged lines through a query string (decoded by the server) and an RTMP tcUrl
            forged = "%0d%0a[2026-01-01%2000:00:00.000][Error][1][forged]%20FORGED%00"
            reader, writer = await http_raw(
                ports.http, f"GET /live/s.flv?x={forged} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            )
            await closed_within(reader, 2)
            writer.close()
            c = await RtmpClient.open(ports.rtmp, tc_url="rtmp://127.0.0.1/live?x=\r\n[Error] FORGED\x00")
            c.session.publish("a\x01[Error]FORGED")
            c._flush()
            await c.closed.wait()
            await c.close()
            # 6. a flood of connections over max_connections, refused
            socks = []
            for _ in range(300):
                try:
                    socks.append(await asyncio.open_connection("127.0.0.1", ports.rtmp))
                except OSError:
                    pass
            await asyncio.sleep(1.5)
            for _, w in socks:
                w.close()

        asyncio.run(attack())
        srs.wait_log("more like this")
        text = srs.log()
        lines = text.splitlines()
        assert "\x00" not in text
        forged_lines = [ln for ln in lines if ln.startswith("[2026-01-01") or "] FORGED" in ln[:2]]
        assert not forged_lines and not [
            ln for ln in lines if ln.lstrip().startswith(("[Error] FORGED", "[Error]FORGED"))
        ]
        assert any("\\r\\n" in ln and "FORGED" in ln for ln in lines)  # it is there, escaped
        drops = [ln for ln in lines if "max_connections=5 reached" in ln]
        assert 1 <= len(drops) <= 6, len(drops)  # ~295 evictions: a line and a summary per second
        assert any("more like this" in ln for ln in drops)
        # 7. no false "not supported" for what works
        assert "not supported" not in text
    finally:
        srs.stop()


# ---------------------------------------------------------------- 8. names that become paths


async def test_unsafe_stream_names_are_refused(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    try:
        # ("a//b" is fine: the URL rules map it to app live/a, stream b.)
        for name in ("../../etc/x", "a/../../b", "a\x00b", "a\x01b", "a\\b", "x" * 300):
            c = await RtmpClient.open(r.ports.rtmp)
            c.session.publish(name)
            c._flush()
            info = await c.wait_status("NetStream.Publish.BadName", 5)
            assert "Invalid name" in str(info["description"]), info
            await asyncio.wait_for(c.closed.wait(), 5)
            await c.close()
        c = await RtmpClient.open(r.ports.rtmp, tc_url=f"rtmp://127.0.0.1:{r.ports.rtmp}/../..")
        c.session.play("s")
        c._flush()
        await c.wait_status("NetStream.Play.StreamNotFound", 5)
        await c.close()
        assert len(r.ctx.registry) == 0
        for path in ("/live/a%00b.flv", "/live/a%01b.flv"):
            reader, writer = await http_raw(r.ports.http, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.read(4096), 5)
            assert head.startswith(b"HTTP/1.1 400"), head
            assert b'"reason"' in head
            writer.close()
        ok = await RtmpClient.open(r.ports.rtmp)
        await ok.publish("fine.name-1_2")  # ordinary names still work
        await ok.close()
    finally:
        await r.app.stop(graceful=False)
