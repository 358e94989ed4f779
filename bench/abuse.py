"""Abuse run: viewers watch a live stream while scripted attackers hit the server; what survives?

    .venv/bin/python bench/abuse.py                    # 60 s attack window, about 90 s in all
    .venv/bin/python bench/abuse.py --quick            # ~20 s smoke run
    .venv/bin/python bench/abuse.py --attacks slowloris,stalled --duration 40   # some attacks only
    # another server binary started by the tool with the same derived config (e.g. the C++ SRS):
    .venv/bin/python bench/abuse.py --server-cmd '/path/to/srs/trunk/objs/srs -c {conf}' \\
        --server-cwd /path/to/srs/trunk
    # a server that already runs (no ulimit or pinning applied by the tool):
    .venv/bin/python bench/abuse.py --no-start --rtmp-port 1935 --http-port 8080 --api-port 1985 \\
        --server-pid PID [--log-file objs/srs.log]

What it does, in order:

1. starts the server (``--server-cmd``, default ``.venv/bin/srs -c {conf}``) from a copy of
   ``bench/abuse.conf`` in a temp dir with free ports, a log file (``srs_log_tank file``) and
   ``RLIMIT_NOFILE`` soft = ``--nofile`` (1024); the server is pinned to CPU 0, this tool to CPU 1;
2. publishes ``--file`` (bbb.flv) in real time, looped, to ``live/livestream`` (bench/players.py's
   Publisher) and starts two viewers of it, an RTMP and an HTTP-FLV player (parsing probes);
3. measures ``--baseline`` seconds without attacks, then ``--duration`` seconds with every attack
   of ``--attacks`` running in parallel:

   * ``long-tcurl``: RTMP clients sending a ``connect`` whose tcUrl is a 15 MB AMF0 long string;
   * ``prelogin``: connections that start, before ``connect``, messages of 16 MB - 1 on many chunk
     streams, send 1 MB of each and sit idle;
   * ``slowloris``: HTTP requests that never end (one header byte every 10 s), plus keep-alive
     connections (HTTP server and API) that send one request and then stay idle;
   * ``stalled``: RTMP and HTTP-FLV players (SO_RCVBUF 4096) that play and never read;
   * ``log-forging``: CR/LF/NUL and fake ``[Error]`` lines in an HTTP-FLV query, an RTMP tcUrl and
     a stream name, every second;
   * ``idle-flood``: 3000 TCP connections to the RTMP port that send nothing (a burst, a few
     seconds into the window, once the other attacks are set up);
   * ``bad-names``: RTMP publishes of ``../../etc/x``, ``/abs``, ``a\\x00b``, ``a\\nb`` every second;
   * ``xff``: HTTP-FLV requests with ``X-Forwarded-For`` (load only);

   meanwhile: each viewer's worst gap between consecutive A/V frames (wall clock), the API
   (``GET /api/v1/versions`` every 50 ms: latency, failures), the server's RSS and open fds
   (every 0.5 s), this tool's CPU and event-loop lag (is the tool the bottleneck?);
4. at the end of the window, with the attack connections still held: is the server alive, does it
   accept a new RTMP publisher and an API request; which held connections did it close (stalled
   players are read again for ``--drain`` seconds: EOF or reset means closed). Then releases
   everything, checks publisher + API once more, stops the server and reads its log: lines written
   in the window, lines with a raw CR or NUL, forged ``[Error]`` lines, tracebacks;
5. prints a summary table with PASS/FAIL per target and writes JSON (``--out``).

Targets: each viewer's worst frame gap < 0.5 s; API p99 < 100 ms (a failed request counts as
infinitely slow); server max RSS < 300 MB; max fds < the fd limit; the server alive and accepting a
new publisher and an API request at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import psutil
import uvloop

from load import ProcTree, pct, raise_nofile, rnd
from players import FlvProbe, Publisher, RtmpProbe, load_stream, now
from run_matrix import src_state
from srs.protocol.rtmp.client import ClientSession
from srs.protocol.rtmp.events import (
    Connected,
    HandshakeCompleted,
    ResultReceived,
    StatusReceived,
)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
DEFAULT_FILE = os.path.normpath(os.path.join(REPO, "..", "shared", "media", "bbb.flv"))
DEFAULT_CMD = f"{os.path.join(REPO, '.venv', 'bin', 'srs')} -c {{conf}}"
ATTACKS = ("long-tcurl", "prelogin", "slowloris", "stalled", "log-forging", "idle-flood", "bad-names", "xff")
BAD_NAMES = ("../../etc/x", "/abs", "a\x00b", "a\nb")
FORGED_NAME = "a\r\n[Error]FORGED"
FORGED_QUERY = "x=%0d%0a[2026-01-01%2000:00:00.000][Error][1][forged]%20FORGED%00"
CONNECT_TIMEOUT = 3.0
SAMPLE_S = 0.5
SERVER_CPU = 0
TOOL_CPU = 1

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_DISCARD = memoryview(bytearray(256 * 1024))  # every holder reads into it: counting allocates nothing


# --------------------------------------------------------------------------- raw RTMP pieces


def amf_str(s: bytes) -> bytes:
    """AMF0 string (0x02, u16 length) or, beyond 65535 bytes, long string (0x0C, u32 length)."""
    if len(s) <= 0xFFFF:
        return b"\x02" + _U16.pack(len(s)) + s
    return b"\x0c" + _U32.pack(len(s)) + s


def amf_num(v: float) -> bytes:
    return b"\x00" + struct.pack(">d", v)


def amf_obj(props: dict[str, bytes]) -> bytes:
    out = bytearray(b"\x03")
    for k, v in props.items():
        out += _U16.pack(len(k)) + k.encode() + v
    return bytes(out + b"\x00\x00\x09")


def connect_command(tc_url: bytes, app: bytes = b"live") -> bytes:
    return (
        amf_str(b"connect")
        + amf_num(1.0)
        + amf_obj(
            {
                "app": amf_str(app),
                "flashVer": amf_str(b"LNX 9,0,124,2"),
                "tcUrl": amf_str(tc_url),
                "fpad": b"\x01\x00",
                "capabilities": amf_num(15.0),
                "audioCodecs": amf_num(4071.0),
                "videoCodecs": amf_num(252.0),
                "videoFunction": amf_num(1.0),
                "objectEncoding": amf_num(0.0),
            }
        )
    )


def basic_header(fmt: int, csid: int) -> bytes:
    if csid < 64:
        return bytes([fmt << 6 | csid])
    if csid < 320:
        return bytes([fmt << 6, csid - 64])
    return bytes([fmt << 6 | 1]) + (csid - 64).to_bytes(2, "little")


def chunked(
    csid: int,
    msg_type: int,
    payload: bytes,
    chunk_size: int,
    *,
    length: int | None = None,
    stream_id: int = 0,
) -> bytes:
    """One message (or, with ``length`` > len(payload), its beginning): fmt 0 chunk, then fmt 3."""
    n = len(payload) if length is None else length
    head = (
        basic_header(0, csid)
        + (0).to_bytes(3, "big")
        + n.to_bytes(3, "big")
        + bytes([msg_type])
        + stream_id.to_bytes(4, "little")
    )
    c3 = basic_header(3, csid)
    mv = memoryview(payload)
    parts: list[bytes | memoryview] = [head, mv[:chunk_size]]
    for off in range(chunk_size, len(payload), chunk_size):
        parts += [c3, mv[off : off + chunk_size]]
    return b"".join(parts)


def set_chunk_size(size: int) -> bytes:
    return chunked(2, 1, _U32.pack(size), 128)


C0C1 = b"\x03" + bytes(8) + os.urandom(1528)  # simple handshake: time 0, zero, random


async def rtmp_handshake(r: asyncio.StreamReader, w: asyncio.StreamWriter, timeout: float = 5.0) -> None:
    w.write(C0C1)
    async with asyncio.timeout(timeout):
        s0s1s2 = await r.readexactly(1 + 1536 + 1536)
    w.write(s0s1s2[1:1537])  # C2 echoes S1


def err_name(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "timeout"
    if isinstance(e, asyncio.IncompleteReadError):
        return "eof"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, ConnectionResetError):
        return "reset"
    if isinstance(e, BrokenPipeError):
        return "broken-pipe"
    return type(e).__name__


# --------------------------------------------------------------------------- connections we hold


class Hold(asyncio.BufferedProtocol):
    """A connection that only holds: sends ``greeting``, counts what comes back, notes who closed."""

    __slots__ = ("closed", "greeting", "pause", "released", "reset", "rx", "t_closed", "t_conn", "transport")

    def __init__(self, greeting: bytes = b"", pause: bool = False) -> None:
        self.greeting = greeting
        self.pause = pause
        self.transport: asyncio.Transport | None = None
        self.rx = 0
        self.t_conn = 0.0
        self.t_closed = 0.0
        self.closed = False  # by the server (EOF or reset), not by us
        self.reset = False
        self.released = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        t: asyncio.Transport = transport  # type: ignore[assignment]
        self.transport = t
        self.t_conn = now()
        if self.greeting:
            t.write(self.greeting)
        if self.pause:
            # uvloop starts reading after connection_made returns: a pause from inside it is lost.
            asyncio.get_running_loop().call_soon(self._pause)

    def _pause(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        return _DISCARD

    def buffer_updated(self, nbytes: int) -> None:
        self.rx += nbytes

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.released:
            self.closed = True
            self.reset = exc is not None
            self.t_closed = now()

    def write(self, data: bytes) -> None:
        t = self.transport
        if t is not None and not t.is_closing():
            t.write(data)

    def resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            with contextlib.suppress(Exception):
                self.transport.resume_reading()

    def release(self) -> None:
        self.released = True
        if self.transport is not None:
            self.transport.abort()


class RtmpScript(asyncio.Protocol):
    """Handshake, connect, publish or play with our client; ``outcome`` says what the server did.

    ``accepted`` (NetStream.Publish.Start / Play.Start), ``refused:<code>`` (an error status or a
    connect ``_error``), ``closed`` / ``reset`` before that, or ``timeout`` (set by the caller).
    With ``stall`` the player stops reading once the play started (and only counts bytes after a
    ``resume``).
    """

    def __init__(self, tc_url: str, action: str, name: str, *, stall: bool = False) -> None:
        self.tc_url = tc_url
        self.action = action
        self.name = name
        self.stall = stall
        self.session: ClientSession | None = ClientSession(random_bytes=os.urandom, epoch_ms=0)
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.rx = 0
        self.t_conn = 0.0
        self.t_closed = 0.0
        self.closed = False
        self.reset = False
        self.released = False

    def _finish(self, outcome: str) -> None:
        if not self.done.done():
            self.done.set_result(outcome)

    def _flush(self) -> None:
        s = self.session
        if s is not None and self.transport is not None and not self.transport.is_closing():
            out = s.data_to_send()
            if out:
                self.transport.writelines(out)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.t_conn = now()
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.rx += len(data)
        s = self.session
        if s is None:
            return
        try:
            events = s.receive_data(data)
            for e in events:
                if isinstance(e, HandshakeCompleted):
                    s.connect(self.tc_url)
                elif isinstance(e, Connected):
                    if self.action == "publish":
                        s.publish(self.name)
                    elif self.action == "play":
                        s.play(self.name)
                    else:
                        self._finish("accepted")
                elif isinstance(e, ResultReceived) and e.error:
                    self._finish("refused:_error")
                elif isinstance(e, StatusReceived):
                    code = str(e.info.get("code"))
                    if code in ("NetStream.Publish.Start", "NetStream.Play.Start"):
                        self._finish("accepted")
                        if self.stall and self.transport is not None:
                            self.transport.pause_reading()
                            self.session = None
                            return
                    elif e.info.get("level") == "error" or "Failed" in code or "BadName" in code:
                        self._finish(f"refused:{code}")
        except Exception as e:  # the server's answer may be anything: note it, never crash
            self._finish(f"protocol:{type(e).__name__}")
            if self.transport is not None:
                self.transport.abort()
            return
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._finish("reset" if exc is not None else "closed")
        if not self.released:
            self.closed = True
            self.reset = exc is not None
            self.t_closed = now()

    def resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            with contextlib.suppress(Exception):
                self.transport.resume_reading()

    def release(self) -> None:
        self.released = True
        if self.transport is not None:
            self.transport.abort()


Holder = Hold | RtmpScript


def closed_report(holders: list[Any], connected: int | None = None) -> dict[str, Any]:
    """How many held connections the server closed: soon after connecting (< 1 s: refused) or later."""
    closed = [h for h in holders if h.closed]
    fast = sum(1 for h in closed if h.t_closed - h.t_conn < 1.0)
    return {
        "connected": len(holders) if connected is None else connected,
        "closed_by_server": len(closed),
        "closed_within_1s": fast,
        "closed_later": len(closed) - fast,
        "reset": sum(1 for h in closed if h.reset),
        "still_open": sum(1 for h in holders if not h.closed),
    }


# --------------------------------------------------------------------------- viewers


class GapTimes:
    """Mixin before a probe class: the receive time of every A/V frame (wall clock, perf_counter)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.frame_times: list[float] = []

    def on_video(self, body: bytes, t: float) -> None:
        self.frame_times.append(t)
        super().on_video(body, t)  # type: ignore[misc]

    def on_audio(self, body: bytes, t: float) -> None:
        self.frame_times.append(t)
        super().on_audio(body, t)  # type: ignore[misc]


class RtmpViewer(GapTimes, RtmpProbe):
    pass


class FlvViewer(GapTimes, FlvProbe):
    pass


def worst_gap(times: list[float], a: float, b: float) -> tuple[float, float, int]:
    """Longest silence in [a, b] (from the last frame before ``a``; up to ``b`` if it went quiet).

    Returns (gap seconds, when it ended relative to ``a``, frames received in [a, b]).
    """
    i = bisect.bisect_left(times, a)
    j = bisect.bisect_right(times, b)
    prev = times[i - 1] if i > 0 else a
    worst, at = 0.0, 0.0
    for t in times[i:j]:
        if t - prev > worst:
            worst, at = t - prev, t - a
        prev = t
    if b - prev > worst:
        worst, at = b - prev, b - a
    return worst, at, j - i


# --------------------------------------------------------------------------- HTTP


def http_request(path: str, host: str, port: int, extra: str = "", keepalive: bool = False) -> bytes:
    conn = "keep-alive" if keepalive else "close"
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: srs-abuse\r\n"
        f"Connection: {conn}\r\n{extra}\r\n"
    ).encode("latin-1")


async def read_response(r: asyncio.StreamReader) -> int:
    """Read one response (head + Content-Length body, or to EOF); return the status."""
    head = await r.readuntil(b"\r\n\r\n")
    first = head.split(b"\r\n", 1)[0].split()
    status = int(first[1]) if len(first) > 1 and first[1].isdigit() else 0
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    if m:
        await r.readexactly(int(m.group(1)))
    elif not re.search(rb"\r\ntransfer-encoding:", head, re.I):
        await r.read()
    return status


class ApiPoller:
    """GET /api/v1/versions every ``interval`` s (fixed schedule, missed slots skipped)."""

    def __init__(self, host: str, port: int, interval: float, keepalive: bool, timeout: float = 2.0) -> None:
        self.host, self.port = host, port
        self.interval = interval
        self.keepalive = keepalive
        self.timeout = timeout
        self.samples: list[tuple[float, float | None, str]] = []  # (start, ms or None, error)
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._req = http_request("/api/v1/versions", host, port, keepalive=keepalive)

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn[1].transport.abort()
            self._conn = None

    async def once(self, timeout: float | None = None) -> tuple[float | None, str]:
        t0 = now()
        try:
            async with asyncio.timeout(timeout or self.timeout):
                if self._conn is None:
                    self._conn = await asyncio.open_connection(self.host, self.port)
                r, w = self._conn
                w.write(self._req)
                status = await read_response(r)
            if not self.keepalive:
                self._drop()
            if status != 200:
                self._drop()
                return None, f"http {status}"
            return (now() - t0) * 1000, ""
        except Exception as e:
            self._drop()
            return None, err_name(e)

    async def run(self) -> None:
        t_next = now()
        try:
            while True:
                t0 = now()
                ms, err = await self.once()
                self.samples.append((t0, ms, err))
                t_next += self.interval
                t = now()
                if t_next < t:
                    t_next = t + (self.interval - (t - t_next) % self.interval)
                await asyncio.sleep(t_next - t)
        finally:
            self._drop()

    def stats(self, a: float, b: float) -> dict[str, Any]:
        s = [x for x in self.samples if a <= x[0] < b]
        ok = [ms for _, ms, _ in s if ms is not None]
        errs = Counter(e for _, ms, e in s if ms is None)
        # A failed request is infinitely slow: p99 is only finite while < 1% fail.
        every = sorted(ok) + [float("inf")] * (len(s) - len(ok))
        return {
            "requests": len(s),
            "failures": len(s) - len(ok),
            "errors": dict(errs),
            "p50_ms": rnd(pct(every, 50), 2),
            "p99_ms": rnd(pct(every, 99), 2),
            "max_ms": rnd(max(every), 2) if every else None,
            "ok_p99_ms": rnd(pct(ok, 99), 2),
            "ok_max_ms": rnd(max(ok), 2) if ok else None,
        }


# --------------------------------------------------------------------------- the server


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def derive_conf(text: str, rtmp: int, http: int, api: int, tmp: str) -> str:
    """bench/abuse.conf with our ports, log file, pid file and html dir (block-aware, line based)."""
    out: list[str] = []
    stack: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        code = line.split("#", 1)[0]
        block = stack[-1] if stack else ""
        m = re.match(r"^(\s*)(\w+)(\s+)[^;{]*;", code)
        if m:
            ind, key = m.group(1), m.group(2)
            if key == "listen" and block in ("", "http_server", "http_api"):
                port = {"": rtmp, "http_server": http, "http_api": api}[block]
                line = f"{ind}listen {port};"
            elif block == "" and key in ("srs_log_tank", "srs_log_file", "pid", "daemon"):
                seen.add(key)
                line = {
                    "srs_log_tank": f"{ind}srs_log_tank file;",
                    "srs_log_file": f"{ind}srs_log_file {tmp}/server.log;",
                    "pid": f"{ind}pid {tmp}/server.pid;",
                    "daemon": f"{ind}daemon off;",
                }[key]
            elif block == "http_server" and key == "dir":
                line = f"{ind}dir {tmp}/html;"
        opened = re.match(r"^\s*([\w.]+)[^{;]*\{", code)
        if opened:
            stack.append(opened.group(1))
            seen.add(opened.group(1))
        for _ in range(code.count("}")):
            if stack:
                stack.pop()
        out.append(line)
    head = []
    if "srs_log_tank" not in seen:
        head.append("srs_log_tank file;")
    if "srs_log_file" not in seen:
        head.append(f"srs_log_file {tmp}/server.log;")
    if "pid" not in seen:
        head.append(f"pid {tmp}/server.pid;")
    if "daemon" not in seen:
        head.append("daemon off;")
    tail = []
    if "http_server" not in seen:
        tail.append(f"http_server {{\n    enabled on;\n    listen {http};\n    dir {tmp}/html;\n}}")
    if "http_api" not in seen:
        tail.append(f"http_api {{\n    enabled on;\n    listen {api};\n}}")
    return "\n".join(head + out + tail) + "\n"


def start_server(a: argparse.Namespace, tmp: str) -> subprocess.Popen[bytes]:
    with open(a.conf, encoding="utf-8") as f:
        conf = derive_conf(f.read(), a.rtmp_port, a.http_port, a.api_port, tmp)
    conf_path = os.path.join(tmp, "server.conf")
    with open(conf_path, "w", encoding="utf-8") as f:
        f.write(conf)
    os.makedirs(os.path.join(tmp, "html"), exist_ok=True)
    with open(os.path.join(tmp, "html", "index.html"), "w", encoding="utf-8") as f:
        f.write("<html><body>abuse</body></html>\n")
    argv = [x.replace("{conf}", conf_path) for x in shlex.split(a.server_cmd)]
    nofile, pin = a.nofile, a.pin
    env = dict(os.environ)
    if a.srs_src:
        env["PYTHONPATH"] = os.path.abspath(a.srs_src)  # another checkout's src/ wins over the venv's

    def child() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(nofile, hard), hard))
        if pin:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, {SERVER_CPU})

    out = open(os.path.join(tmp, "server.out"), "wb")  # noqa: SIM115 - the child keeps it
    try:
        return subprocess.Popen(
            argv,
            cwd=a.server_cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=child,
            start_new_session=True,
        )
    finally:
        out.close()


def wait_ports(ports: Iterable[int], proc: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode} before listening")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"port {port} not listening after {timeout} s") from None
                time.sleep(0.1)


def stop_server(proc: subprocess.Popen[bytes], grace: float = 8.0) -> dict[str, Any]:
    if proc.poll() is not None:
        return {"exited_before_stop": True, "returncode": proc.returncode, "killed": False}
    t0 = time.monotonic()
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
        return {"exited_before_stop": False, "returncode": proc.returncode, "killed": False,
                "stop_s": round(time.monotonic() - t0, 2)}  # fmt: skip
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
        return {"exited_before_stop": False, "returncode": proc.returncode, "killed": True}


_TB_EXC = re.compile(rb"^\s*([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b.*)$")


def analyse_log(path: str, w0: int, w1: int, cap: int = 4 << 30) -> dict[str, Any]:
    """Lines in bytes [w0, w1) (the window); CR/NUL/forged lines and tracebacks in the whole file."""
    res: dict[str, Any] = {
        "file_bytes": 0, "window_bytes": max(0, w1 - w0), "window_lines": 0, "cr_lines": 0,
        "nul_lines": 0, "forged_lines": 0, "forged_mentions": 0, "tracebacks": 0,
        "exceptions": {}, "forged_samples": [], "truncated": False,
    }  # fmt: skip
    if not path or not os.path.exists(path):
        return res
    res["file_bytes"] = os.path.getsize(path)
    exc: Counter[str] = Counter()
    pos = 0
    carry = b""
    with open(path, "rb") as f:
        while True:
            block = f.read(8 << 20)
            if not block:
                lines = [carry] if carry else []
                carry = b""
            else:
                # window line count: newlines whose offset is in [w0, w1)
                lo, hi = max(w0 - pos, 0), min(w1 - pos, len(block))
                if hi > lo:
                    res["window_lines"] += block.count(b"\n", lo, hi)
                pos += len(block)
                data = carry + block
                lines = data.split(b"\n")
                carry = lines.pop()
                if len(carry) > 64 << 20:  # a giant line: judge its head only
                    lines.append(carry[: 1 << 20])
                    carry = b""
            for ln in lines:
                if b"\r" in ln:
                    res["cr_lines"] += 1
                if b"\x00" in ln:
                    res["nul_lines"] += 1
                if b"FORGED" in ln:
                    res["forged_mentions"] += 1
                    s = ln.lstrip(b"\r")
                    if s.startswith((b"[Error]", b"[2026-01-01 00:00:00.000]")):
                        res["forged_lines"] += 1
                        if len(res["forged_samples"]) < 5:
                            res["forged_samples"].append(ln[:160].decode("latin-1"))
                if ln.startswith(b"Traceback"):
                    res["tracebacks"] += 1
                m = _TB_EXC.match(ln[:300])
                if m and not ln.startswith(b"["):
                    exc[m.group(1)[:160].decode("latin-1")] += 1
            if not block:
                break
            if pos >= cap:
                res["truncated"] = True
                break
    res["exceptions"] = dict(exc.most_common(15))
    return res


# --------------------------------------------------------------------------- the run


class Abuse:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.loop = asyncio.get_running_loop()
        self.host = a.host
        self.tc_url = f"rtmp://{a.host}:{a.rtmp_port}/{a.app}"
        self.stop = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.obs: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.holders: dict[str, list[Any]] = {}
        self.badnames: dict[str, Counter[str]] = {repr(n): Counter() for n in BAD_NAMES}
        self.server = ProcTree(a.server_pid) if a.server_pid else None
        self.rss: list[int] = []
        self.fds: list[int] = []
        self.samples: list[tuple[float, int, int]] = []  # (time, rss, fds): the timeline
        self.lags_ms: list[float] = []
        self.lag_at: list[float] = []
        self.me = psutil.Process()

    # ------------------------------------------------------------------ plumbing

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        t = self.loop.create_task(self._guard(coro, name))
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)
        return t

    async def _guard(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:  # an attacker never takes the tool down
            if name:
                self.obs[name][f"tool-error:{type(e).__name__}"] += 1

    async def every(self, interval: float, fn: Callable[[], Coroutine[Any, Any, Any]], name: str) -> None:
        """Start ``fn()`` every ``interval`` s (each run its own task) until the window ends."""
        t_next = now()
        while not self.stop.is_set():
            self.spawn(fn(), name)
            t_next += interval
            await asyncio.sleep(max(0.0, t_next - now()))

    async def connect(self, port: int, factory: Callable[[], asyncio.BaseProtocol], rcvbuf: int = 0) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            if rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await self.loop.sock_connect(sock, (self.host, port))
            await self.loop.create_connection(factory, sock=sock)
            return "connected"
        except Exception as e:
            sock.close()
            return err_name(e)

    async def ramp(
        self, group: str, n: int, rate: float, port: int, make: Callable[[], Any], rcvbuf: int = 0
    ) -> None:
        """Open ``n`` held connections at ``rate`` per second into holders[group]; outcomes to obs[group]."""
        into = self.holders.setdefault(group, [])
        pending: set[asyncio.Task[Any]] = set()
        batch = max(1, round(rate * 0.05))
        t0 = now()

        async def one() -> None:
            h = make()
            r = await self.connect(port, lambda: h, rcvbuf)
            self.obs[group][f"connect:{r}"] += 1
            if r == "connected":
                into.append(h)

        i = 0
        while i < n and not self.stop.is_set():
            for _ in range(min(batch, n - i)):
                pending.add(self.spawn(one(), group))
                i += 1
            await asyncio.sleep(max(0.0, t0 + i / rate - now()))
        if pending:
            await asyncio.wait(pending)

    # ------------------------------------------------------------------ attacks

    async def long_tcurl(self, payload: bytes) -> None:
        c = self.obs["long-tcurl"]
        while not self.stop.is_set():
            c["attempts"] += 1
            w: asyncio.StreamWriter | None = None
            stage = "connect"
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    r, w = await asyncio.open_connection(self.host, self.a.rtmp_port, limit=1 << 20)
                stage = "handshake"
                await rtmp_handshake(r, w)
                stage = "send"
                w.write(set_chunk_size(65536))
                w.write(payload)
                async with asyncio.timeout(15):
                    await w.drain()
                c["sent_mb"] += len(payload) >> 20
                stage = "answer"
                got = b""
                async with asyncio.timeout(5):
                    while b"_result" not in got and b"_error" not in got:
                        data = await r.read(65536)
                        if not data:
                            break
                        got = got[-64:] + data
                if b"_result" in got:
                    c["outcome:connect accepted (_result)"] += 1
                elif b"_error" in got:
                    c["outcome:connect refused (_error)"] += 1
                else:
                    c["outcome:closed after send"] += 1
            except Exception as e:
                c[f"outcome:{err_name(e)} at {stage}"] += 1
            finally:
                if w is not None:
                    w.transport.abort()
            await asyncio.sleep(self.a.tcurl_pause)

    async def prelogin(self, msgs: list[bytes]) -> None:
        c = self.obs["prelogin"]
        w: asyncio.StreamWriter | None = None
        stage = "connect"
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                r, w = await asyncio.open_connection(self.host, self.a.rtmp_port)
            stage = "handshake"
            await rtmp_handshake(r, w)
            c["handshaken"] += 1
            stage = "send"
            w.write(set_chunk_size(65536))
            w.writelines(msgs)
            async with asyncio.timeout(20):
                await w.drain()
            c["sent_all"] += 1
            c["sent_mb"] += sum(len(m) for m in msgs) >> 20
            stage = "idle"
            t_idle = now()
            while await r.read(65536):
                pass
            c["closed_by_server"] += 1
            c["closed_within_1s_of_sending" if now() - t_idle < 1 else "closed_later"] += 1
        except asyncio.CancelledError:
            raise
        except Exception as e:
            c[f"{err_name(e)} at {stage}"] += 1
            if stage in ("send", "idle") and not isinstance(e, TimeoutError):
                c["closed_by_server"] += 1
        finally:
            if w is not None:
                w.transport.abort()

    async def slowloris(self) -> None:
        a = self.a
        head = http_request("/live/livestream.flv", self.host, a.http_port, keepalive=True)
        partial = head[: head.index(b"\r\n", head.index(b"Host:")) + 2]  # request line + Host, no end
        ka_http = http_request("/", self.host, a.http_port, keepalive=True)
        ka_api = http_request("/api/v1/versions", self.host, a.api_port, keepalive=True)
        half = a.keepalive_idle // 2
        self.spawn(self.ramp("slowloris", a.slowloris, 250, a.http_port, lambda: Hold(partial)), "slowloris")
        self.spawn(
            self.ramp("keepalive-http", a.keepalive_idle - half, 250, a.http_port, lambda: Hold(ka_http)),
            "keepalive-http",
        )
        self.spawn(self.ramp("keepalive-api", half, 250, a.api_port, lambda: Hold(ka_api)), "keepalive-api")
        slow: list[Hold] = self.holders.setdefault("slowloris", [])
        drip = b"X-Slowloris: " + b"a" * 1000
        slices = max(1, round(a.slowloris_interval / SAMPLE_S))
        tick = 0
        while not self.stop.is_set():
            await asyncio.sleep(SAMPLE_S)
            k = min(tick // slices, len(drip) - 1)  # every holder gets its k-th byte in round k
            for h in slow[tick % slices :: slices]:
                h.write(drip[k : k + 1])
            tick += 1

    async def stalled(self) -> None:
        a = self.a
        flv = http_request("/live/livestream.flv", self.host, a.http_port, keepalive=True)
        await asyncio.gather(
            self.ramp(
                "stalled-rtmp", a.stalled_rtmp, 100, a.rtmp_port,
                lambda: RtmpScript(self.tc_url, "play", a.stream, stall=True), a.stalled_rcvbuf,
            ),
            self.ramp("stalled-flv", a.stalled_flv, 100, a.http_port, lambda: Hold(flv, pause=True), a.stalled_rcvbuf),
        )  # fmt: skip

    async def idle_flood(self) -> None:
        await asyncio.sleep(self.a.idle_flood_delay)
        await self.ramp("idle-flood", self.a.idle_flood, 2000, self.a.rtmp_port, Hold)

    async def rtmp_attempt(self, tc_url: str, action: str, name: str, timeout: float = 3.0) -> str:
        s = RtmpScript(tc_url, action, name)
        r = await self.connect(self.a.rtmp_port, lambda: s)
        if r != "connected":
            return f"connect:{r}"
        try:
            async with asyncio.timeout(timeout):
                return await s.done
        except TimeoutError:
            return "timeout"
        finally:
            s.release()

    async def http_attempt(self, port: int, req: bytes, read_s: float = 1.0) -> str:
        w: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                r, w = await asyncio.open_connection(self.host, port)
            w.write(req)
            async with asyncio.timeout(3):
                head = await r.readuntil(b"\r\n\r\n")
            status = head.split(b"\r\n", 1)[0].decode("latin-1")
            with contextlib.suppress(TimeoutError, OSError):
                async with asyncio.timeout(read_s):
                    while await r.read(65536):
                        pass
            return status
        except Exception as e:
            return err_name(e)
        finally:
            if w is not None:
                w.transport.abort()

    async def log_forging_once(self) -> None:
        a = self.a
        c = self.obs["log-forging"]
        req = http_request(f"/live/livestream.flv?{FORGED_QUERY}", self.host, a.http_port)

        async def http() -> None:
            c[f"http:{await self.http_attempt(a.http_port, req, 0.2)}"] += 1

        async def rtmp() -> None:
            tc = f"rtmp://{self.host}:{a.rtmp_port}/{a.app}?x=\r\n[Error] FORGED"
            outcome = await self.rtmp_attempt(tc, "publish", FORGED_NAME)
            c[f"rtmp publish:{outcome}"] += 1

        await asyncio.gather(http(), rtmp())

    async def bad_names_once(self) -> None:
        async def one(name: str) -> None:
            self.badnames[repr(name)][await self.rtmp_attempt(self.tc_url, "publish", name)] += 1

        await asyncio.gather(*(one(n) for n in BAD_NAMES))

    async def xff_once(self) -> None:
        req = http_request(
            f"/{self.a.app}/{self.a.stream}.flv", self.host, self.a.http_port, "X-Forwarded-For: 10.1.2.3\r\n"
        )
        self.obs["xff"][await self.http_attempt(self.a.http_port, req, 1.0)] += 1

    # ------------------------------------------------------------------ samplers

    async def sample_server(self) -> None:
        while True:
            if self.server is not None:
                rss, fds = 0, 0
                for p in self.server.procs():
                    try:
                        rss += p.memory_info().rss
                        fds += p.num_fds()
                    except psutil.Error:
                        pass
                if rss:
                    self.rss.append(rss)
                    self.fds.append(fds)
                    self.samples.append((now(), rss, fds))
            await asyncio.sleep(SAMPLE_S)

    async def watch_lag(self) -> None:
        step = 0.1
        while True:
            t = now()
            await asyncio.sleep(step)
            self.lags_ms.append(max(0.0, (now() - t - step) * 1000))
            self.lag_at.append(t)

    def server_alive(self, proc: subprocess.Popen[bytes] | None) -> bool | None:
        if proc is not None:
            return proc.poll() is None
        if self.a.server_pid:
            return psutil.pid_exists(self.a.server_pid)
        return None

    async def end_checks(self, label: str, poller: ApiPoller) -> dict[str, Any]:
        pub, api = await asyncio.gather(
            self.rtmp_attempt(self.tc_url, "publish", f"abuse-check-{label}", timeout=5.0),
            poller.once(timeout=5.0),
        )
        return {"new_publisher": pub, "api_ms": rnd(api[0], 2), "api_error": api[1]}

    # ------------------------------------------------------------------ the run

    async def run(self, proc: subprocess.Popen[bytes] | None, log_path: str) -> dict[str, Any]:
        a = self.a
        res: dict[str, Any] = {}
        limit = None
        if a.server_pid:
            with contextlib.suppress(psutil.Error):
                limit = psutil.Process(a.server_pid).rlimit(psutil.RLIMIT_NOFILE)[0]
        res["server_fd_limit"] = limit
        stream = load_stream(a.file)
        pub = Publisher(stream, self.tc_url, a.stream)
        await self.loop.create_connection(lambda: pub, self.host, a.rtmp_port)
        await asyncio.wait_for(pub.started, 10)
        await asyncio.sleep(a.preroll)
        t_v = now()
        rv = RtmpViewer(pub, self.tc_url, a.stream, t_v, None)
        fv = FlvViewer(pub, self.host, a.http_port, f"/{a.app}/{a.stream}.flv", t_v, None)
        viewers: dict[str, RtmpViewer | FlvViewer] = {"rtmp": rv, "flv": fv}
        await self.loop.create_connection(lambda: rv, self.host, a.rtmp_port)
        await self.loop.create_connection(lambda: fv, self.host, a.http_port)
        deadline = now() + 10
        while now() < deadline and any(v.ttff_ms is None for v in viewers.values()):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)

        poller = ApiPoller(self.host, a.api_port, a.api_interval, a.api_keepalive)
        bg = [
            self.loop.create_task(poller.run()),
            self.loop.create_task(self.sample_server()),
            self.loop.create_task(self.watch_lag()),
        ]
        tb0 = now()
        enabled = set(a.attacks)
        payload = b""
        if "long-tcurl" in enabled:  # built before the window: 15 MB of joins would stall our loop
            tc = b"rtmp://127.0.0.1/live?" + b"a" * (a.tcurl_mb << 20)
            payload = chunked(3, 20, connect_command(tc), 65536)
        prelogin_msgs: list[bytes] = []
        if "prelogin" in enabled:  # the first 1 MB of a 16 MB - 1 command on each chunk stream
            body = bytes(int(a.prelogin_mb * (1 << 20)) // 65536 * 65536)
            prelogin_msgs = [
                chunked(3 + k, 20, body, 65536, length=0xFFFFFF) for k in range(a.prelogin_csids)
            ]
        await asyncio.sleep(max(0.0, tb0 + a.baseline - now()))

        # ---- attack window
        log_w0 = os.path.getsize(log_path) if log_path and os.path.exists(log_path) else 0
        rss_b, fds_b = list(self.rss), list(self.fds)
        self.rss.clear()
        self.fds.clear()
        self.lags_ms.clear()
        self.lag_at.clear()
        me0 = self.me.cpu_times()
        srv0 = self.server.cpu_s() if self.server else 0.0
        t0 = now()
        for v in viewers.values():
            v.recording = True
        if "long-tcurl" in enabled:
            for _ in range(a.tcurl_clients):
                self.spawn(self.long_tcurl(payload), "long-tcurl")
        if "prelogin" in enabled:
            for _ in range(a.prelogin_conns):
                self.spawn(self.prelogin(prelogin_msgs), "prelogin")
        if "slowloris" in enabled:
            self.spawn(self.slowloris(), "slowloris")
        if "stalled" in enabled:
            self.spawn(self.stalled(), "stalled")
        if "idle-flood" in enabled:
            self.spawn(self.idle_flood(), "idle-flood")
        if "log-forging" in enabled:
            self.spawn(self.every(a.forge_interval, self.log_forging_once, "log-forging"), "log-forging")
        if "bad-names" in enabled:
            self.spawn(self.every(a.badname_interval, self.bad_names_once, "bad-names"), "bad-names")
        if "xff" in enabled:
            self.spawn(self.every(a.xff_interval, self.xff_once, "xff"), "xff")
        await asyncio.sleep(a.duration)
        t1 = now()
        self.stop.set()
        for v in viewers.values():
            v.recording = False
        me1 = self.me.cpu_times()
        srv1 = self.server.cpu_s() if self.server else 0.0
        log_w1 = os.path.getsize(log_path) if log_path and os.path.exists(log_path) else 0
        for t in bg:
            t.cancel()
        await asyncio.gather(*bg, return_exceptions=True)
        span = t1 - t0

        # ---- viewers, API, server
        res["window_s"] = round(span, 2)
        res["baseline_s"] = round(t0 - tb0, 2)
        vres: dict[str, Any] = {}
        for k, v in viewers.items():
            gap, at, frames = worst_gap(v.frame_times, t0, t1)
            bgap, _, _ = worst_gap(v.frame_times, tb0, t0)
            vres[k] = {
                "worst_gap_s": round(gap, 3),
                "worst_gap_at_s": round(at, 1),
                "frames": frames,
                "baseline_worst_gap_s": round(bgap, 3),
                "ttff_ms": rnd(v.ttff_ms),
                "latency_ms_p50": rnd(pct(v.latencies_ms, 50)),
                "latency_ms_p99": rnd(pct(v.latencies_ms, 99)),
                "lost": v.lost,
                "failed": v.failed,
            }
        res["viewers"] = vres
        res["publisher_lost"] = pub.lost
        res["api"] = poller.stats(t0, t1)
        res["api_baseline"] = poller.stats(tb0, t0)
        res["server_rss_mb_max"] = rnd(max(self.rss) / 2**20) if self.rss else None
        res["server_rss_mb_baseline"] = rnd(max(rss_b) / 2**20) if rss_b else None
        res["server_fds_max"] = max(self.fds) if self.fds else None
        res["server_fds_baseline"] = max(fds_b) if fds_b else None
        res["timeline"] = timeline(t0, t1, poller.samples, self.samples)
        res["server_cpu_pct"] = rnd((srv1 - srv0) / span * 100) if self.server else None
        res["tool_cpu_pct"] = rnd(((me1.user - me0.user) + (me1.system - me0.system)) / span * 100)
        res["tool_loop_lag_ms_p99"] = rnd(pct(self.lags_ms, 99))
        res["tool_loop_lag_ms_max"] = rnd(max(self.lags_ms) if self.lags_ms else None)
        if self.lags_ms:
            i_max = max(range(len(self.lags_ms)), key=self.lags_ms.__getitem__)
            res["tool_loop_lag_max_at_s"] = round(self.lag_at[i_max] - t0, 1)

        # ---- the end, attack connections still held
        held_at_end = {k: closed_report(v) for k, v in self.holders.items() if not k.startswith("stalled")}
        end_alive = self.server_alive(proc)
        stalled = [*self.holders.get("stalled-rtmp", []), *self.holders.get("stalled-flv", [])]
        rx0 = {id(h): h.rx for h in stalled}
        for h in stalled:
            h.resume()
        checks, _ = await asyncio.gather(
            self.end_checks("held", poller) if end_alive is not False else _none(),
            asyncio.sleep(a.drain),
        )
        for k in ("stalled-rtmp", "stalled-flv"):
            if k in self.holders:
                rep = closed_report(self.holders[k])
                if k == "stalled-rtmp":
                    rep["reached_play_start"] = sum(1 for h in self.holders[k] if h.done.done()
                                                    and h.done.result() == "accepted")  # fmt: skip
                rep["mb_read_after_resume"] = rnd(sum(h.rx - rx0[id(h)] for h in self.holders[k]) / 2**20)
                held_at_end[k] = rep
        res["held"] = held_at_end
        res["end"] = {"alive": end_alive, **(checks or {})}

        # ---- release everything, stop the generators
        for t in list(self.tasks):
            t.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.gather(*list(self.tasks), return_exceptions=True)
        for hs in self.holders.values():
            for h in hs:
                h.release()
        for v in viewers.values():
            v.close()
        pub.close()
        await asyncio.sleep(1.0)
        alive2 = self.server_alive(proc)
        checks2 = await self.end_checks("released", poller) if alive2 is not False else None
        res["after_release"] = {"alive": alive2, **(checks2 or {})}

        obs: dict[str, Any] = {k: dict(sorted(v.items())) for k, v in sorted(self.obs.items()) if v}
        if "bad-names" in enabled:
            obs["bad-names"] = {**obs.get("bad-names", {}), **{k: dict(v) for k, v in self.badnames.items()}}
        res["attacks"] = obs
        res["log_window"] = (log_w0, log_w1)
        return res


def timeline(
    t0: float, t1: float, api: list[tuple[float, float | None, str]], srv: list[tuple[float, int, int]]
) -> list[dict[str, Any]]:
    """Per second of the window: API requests ok / failed and slowest, server max fds and RSS."""
    out = []
    for k in range(int(t1 - t0 + 0.999)):
        a, b = t0 + k, min(t1, t0 + k + 1)
        reqs = [ms for t, ms, _ in api if a <= t < b]
        ok = [ms for ms in reqs if ms is not None]
        ss = [(rss, fds) for t, rss, fds in srv if a <= t < b]
        out.append(
            {
                "s": k,
                "api_ok": len(ok),
                "api_failed": len(reqs) - len(ok),
                "api_max_ms": rnd(max(ok), 1) if ok else None,
                "fds": max((x[1] for x in ss), default=None),
                "rss_mb": rnd(max(x[0] for x in ss) / 2**20) if ss else None,
            }
        )
    return out


async def _none() -> None:
    return None


# --------------------------------------------------------------------------- output


def verdicts(r: dict[str, Any], a: argparse.Namespace) -> list[tuple[str, str, str, bool]]:
    """(target, value, limit, passed)."""
    out: list[tuple[str, str, str, bool]] = []
    for k, v in r["viewers"].items():
        g = v["worst_gap_s"]
        note = f" (baseline {v['baseline_worst_gap_s']:.3f}{', LOST' if v['lost'] else ''})"
        out.append(
            (f"viewer {k} worst frame gap", f"{g:.3f} s{note}", f"< {a.gap_target} s", g < a.gap_target)
        )
    api = r["api"]
    p99 = api["p99_ms"]
    out.append(
        (
            "API p99 (failure = inf)",
            f"{p99} ms (p50 {api['p50_ms']}, ok max {api['ok_max_ms']}, {api['failures']}/{api['requests']} failed)",
            f"< {a.api_p99_target:g} ms",
            p99 is not None and p99 < a.api_p99_target,
        )
    )
    rss = r["server_rss_mb_max"]
    out.append(
        (
            "server max RSS",
            f"{rss} MB (baseline {r['server_rss_mb_baseline']})",
            f"< {a.rss_target:g} MB",
            rss is not None and rss < a.rss_target,
        )
    )
    fds, lim = r["server_fds_max"], r["server_fd_limit"]
    out.append(
        (
            "server max open fds",
            f"{fds} (baseline {r['server_fds_baseline']})",
            f"< {lim}",
            fds is not None and lim is not None and fds < lim,
        )
    )
    e = r["end"]
    out.append(("server alive at end", str(e["alive"]), "True", e["alive"] is True))
    out.append(
        (
            "new RTMP publisher at end",
            str(e.get("new_publisher")),
            "accepted",
            e.get("new_publisher") == "accepted",
        )
    )
    api_end = f"{e.get('api_ms')} ms" if e.get("api_ms") is not None else str(e.get("api_error"))
    out.append(("new API request at end", api_end, "200", e.get("api_ms") is not None))
    return out


def render(r: dict[str, Any], a: argparse.Namespace) -> str:
    rows = verdicts(r, a)
    w0 = max(len(x[0]) for x in rows)
    w1 = max(len(x[1]) for x in rows)
    lines = [
        f"abuse run: {r['label']} {r.get('srs_src_state', '')}  window {r['window_s']} s (baseline {r['baseline_s']} s)  attacks: {','.join(a.attacks) or '-'}",
        "",
        f"{'target':<{w0}}  {'value':<{w1}}  {'limit':<10}  result",
    ]
    for name, val, lim, ok in rows:
        lines.append(f"{name:<{w0}}  {val:<{w1}}  {lim:<10}  {'PASS' if ok else 'FAIL'}")
    ar = r["after_release"]
    lines += [
        f"after releasing the attackers: alive {ar['alive']}, new publisher {ar.get('new_publisher')}, "
        f"API {ar.get('api_ms')} ms {ar.get('api_error') or ''}".rstrip(),
        f"server exit: {r.get('server_exit')}",
        "",
        "held connections at the end (closed by the server: within 1 s of connecting / later; still open):",
    ]
    for k, h in r["held"].items():
        extra = "".join(f", {x} {h[x]}" for x in ("reached_play_start", "mb_read_after_resume") if x in h)
        lines.append(
            f"  {k:<15} connected {h['connected']:>5}  closed {h['closed_by_server']:>5} "
            f"({h['closed_within_1s']} / {h['closed_later']}, reset {h['reset']})  still open {h['still_open']:>5}{extra}"
        )
    lines += ["", "attack observations:"]
    for k, v in r["attacks"].items():
        items = ", ".join(f"{kk} {vv}" for kk, vv in v.items()) or "-"
        lines.append(f"  {k:<12} {items}")
    lg = r["log"]
    lps = lg["window_lines"] / r["window_s"] if r["window_s"] else 0
    lines += [
        "",
        f"server log: {lg['window_lines']} lines in the window ({lps:.0f}/s, {lg['window_bytes'] / 2**20:.1f} MB), "
        f"file {lg['file_bytes'] / 2**20:.1f} MB; lines with raw CR {lg['cr_lines']}, NUL {lg['nul_lines']}, "
        f"forged [Error] lines {lg['forged_lines']} (FORGED mentioned {lg['forged_mentions']}); "
        f"tracebacks {lg['tracebacks']}",
    ]
    if lg["exceptions"]:
        lines.append("  exceptions: " + "; ".join(f"{k} x{v}" for k, v in list(lg["exceptions"].items())[:6]))
    sat = " TOOL SATURATED (numbers suspect)" if (r["tool_cpu_pct"] or 0) >= 90 else ""
    lines.append(
        f"tool: cpu {r['tool_cpu_pct']}% loop lag p99 {r['tool_loop_lag_ms_p99']} ms max {r['tool_loop_lag_ms_max']} ms "
        f"(at {r.get('tool_loop_lag_max_at_s')} s); "
        f"server cpu {r['server_cpu_pct']}%{sat}"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument(
        "--duration", type=float, default=None, help="attack window, s (default 60; 20 with --quick)"
    )
    ap.add_argument("--quick", action="store_true", help="~20 s smoke run")
    ap.add_argument(
        "--baseline", type=float, default=None, help="measure this long before attacking (5; 3 quick)"
    )
    ap.add_argument(
        "--attacks", default=",".join(ATTACKS), help=f"comma list of {','.join(ATTACKS)} (or none)"
    )
    ap.add_argument("--label", default="srs")
    ap.add_argument("--out", default="")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (config, server log)")
    # server
    ap.add_argument("--conf", default=os.path.join(HERE, "abuse.conf"))
    ap.add_argument("--server-cmd", default=DEFAULT_CMD, help="argv; {conf} is the derived config's path")
    ap.add_argument("--server-cwd", default=REPO)
    ap.add_argument(
        "--srs-src", default="", help="run our server from this src/ dir (PYTHONPATH), as run_matrix"
    )
    ap.add_argument("--nofile", type=int, default=1024, help="RLIMIT_NOFILE soft limit of the server")
    ap.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin server/tool to CPU 0/1")
    ap.add_argument("--no-start", action="store_true", help="attack a running server at the given ports")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--rtmp-port", type=int, default=0)
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--api-port", type=int, default=0)
    ap.add_argument("--server-pid", type=int, default=0)
    ap.add_argument("--log-file", default="", help="with --no-start: the server's log, to count lines")
    # stream and viewers
    ap.add_argument("--file", default=DEFAULT_FILE)
    ap.add_argument("--app", default="live")
    ap.add_argument("--stream", default="livestream")
    ap.add_argument("--preroll", type=float, default=2.0)
    ap.add_argument("--api-interval", type=float, default=0.05)
    ap.add_argument("--api-keepalive", action="store_true", help="poll the API on one keep-alive connection")
    ap.add_argument("--drain", type=float, default=3.0, help="read stalled players this long at the end")
    # attack sizes
    ap.add_argument("--tcurl-clients", type=int, default=5)
    ap.add_argument("--tcurl-mb", type=int, default=15)
    ap.add_argument("--tcurl-pause", type=float, default=0.2, help="pause between attempts per client, s")
    ap.add_argument("--prelogin-conns", type=int, default=20)
    ap.add_argument("--prelogin-csids", type=int, default=10)
    ap.add_argument("--prelogin-mb", type=float, default=1.0, help="sent of each 16 MB message")
    ap.add_argument("--slowloris", type=int, default=600)
    ap.add_argument("--slowloris-interval", type=float, default=10.0)
    ap.add_argument(
        "--keepalive-idle", type=int, default=500, help="half to the HTTP server, half to the API"
    )
    ap.add_argument("--stalled-rtmp", type=int, default=200)
    ap.add_argument("--stalled-flv", type=int, default=50)
    ap.add_argument("--stalled-rcvbuf", type=int, default=4096)
    ap.add_argument("--idle-flood", type=int, default=3000)
    ap.add_argument("--idle-flood-delay", type=float, default=None, help="s into the window (5; 3 quick)")
    ap.add_argument("--forge-interval", type=float, default=1.0)
    ap.add_argument("--badname-interval", type=float, default=1.0)
    ap.add_argument("--xff-interval", type=float, default=1.0)
    # targets
    ap.add_argument("--gap-target", type=float, default=0.5)
    ap.add_argument("--api-p99-target", type=float, default=100.0)
    ap.add_argument("--rss-target", type=float, default=300.0)
    a = ap.parse_args(argv)
    a.duration = a.duration if a.duration is not None else (20.0 if a.quick else 60.0)
    a.baseline = a.baseline if a.baseline is not None else (3.0 if a.quick else 5.0)
    a.idle_flood_delay = a.idle_flood_delay if a.idle_flood_delay is not None else min(5.0, a.duration / 4)
    names = [x.strip() for x in a.attacks.split(",") if x.strip() and x.strip() != "none"]
    bad = [x for x in names if x not in ATTACKS]
    if bad:
        ap.error(f"unknown attacks: {bad}")
    a.attacks = names
    if a.no_start and not (a.rtmp_port and a.http_port and a.api_port):
        ap.error("--no-start needs --rtmp-port, --http-port and --api-port")
    if not a.out:
        a.out = os.path.join(RESULTS, f"abuse-{time.strftime('%Y%m%d-%H%M%S')}.json")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    raise_nofile()
    tmp = tempfile.mkdtemp(prefix="srs-abuse-")
    proc: subprocess.Popen[bytes] | None = None
    log_path = a.log_file
    r: dict[str, Any] = {"label": a.label}
    rc = 0
    try:
        if not a.no_start:
            a.rtmp_port, a.http_port, a.api_port = free_ports(3)
            log_path = os.path.join(tmp, "server.log")
            if a.server_cmd == DEFAULT_CMD:
                r["srs_src_state"] = src_state(a.srs_src)  # the tree may change while we run
            proc = start_server(a, tmp)
            a.server_pid = proc.pid
            if a.pin and (os.cpu_count() or 1) >= 2:
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(0, {TOOL_CPU})
        wait_ports((a.rtmp_port, a.http_port, a.api_port), proc)
        budget = a.baseline + a.duration + a.drain + 45
        r.update(uvloop.run(asyncio.wait_for(_run(a, proc, log_path), budget)))
    except Exception as e:
        print(f"abuse run failed: {type(e).__name__}: {e}", file=sys.stderr)
        rc = 1
    finally:
        if proc is not None:
            r["server_exit"] = stop_server(proc)
    if rc:
        out_path = os.path.join(tmp, "server.out")
        if os.path.exists(out_path):
            with open(out_path, "rb") as f:
                sys.stderr.write(f.read()[-3000:].decode("utf-8", "replace"))
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        return rc
    w0, w1 = r.pop("log_window")
    r["log"] = analyse_log(log_path, w0, w1)
    out_file = os.path.join(tmp, "server.out")
    if proc is not None and os.path.exists(out_file):
        so = analyse_log(out_file, 0, 0)
        r["server_stdout"] = {k: so[k] for k in ("file_bytes", "tracebacks", "exceptions")}
        r["log"]["tracebacks"] += so["tracebacks"]
    r["config"] = {
        k: (v if isinstance(v, int | float | str | bool | list) else str(v)) for k, v in vars(a).items()
    }
    r["time"] = time.strftime("%Y-%m-%d %H:%M:%S")
    r["targets"] = [{"target": n, "value": v, "limit": lim, "pass": ok} for n, v, lim, ok in verdicts(r, a)]
    r["pass"] = all(t["pass"] for t in r["targets"])
    table = render(r, a)
    print(table, flush=True)
    r["summary"] = table
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(r, f, indent=1)
    print(f"\nwrote {a.out}" + (f"; server files in {tmp}" if a.keep else ""))
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


async def _run(a: argparse.Namespace, proc: subprocess.Popen[bytes] | None, log_path: str) -> dict[str, Any]:
    return await Abuse(a).run(proc, log_path)


if __name__ == "__main__":
    sys.exit(main())
