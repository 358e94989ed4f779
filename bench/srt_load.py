"""SRT fan-out: N SRT players (``m=request``) of one stream the bench publishes over RTMP.

    .venv/bin/python bench/srt_load.py -n 1000 -P 4 --spawn [--window 30] [--out bench/results/srt-1000.json]

The publisher, the clip (whep_load.py's ~600 kbit/s H.264 baseline + AAC, looped in real time by
bench/players.py's Publisher), ``--spawn`` (server on CPU 0 with ``srt_server`` + vhost ``srt``,
players on CPU 1), the CPU window and the latency histogram are whep_load.py's / fanout_common.py's.
The players are SRT callers through the server's own ctypes binding (src/srs/server/srt/libsrt.py),
spread over ``-P`` processes; in a process they all bind the same local UDP port, so libsrt shares
one multiplexer (its two queue threads) instead of starting threads per socket. Each child connects
its sockets one after the other (blocking ``srt_connect`` with streamid
``#!::r=<app>/<stream>,m=request``), then reads them non-blocking from one libsrt epoll with
``srt_recvmsg2``: messages, bytes, and message-number gaps (a message libsrt dropped as too late,
TLPKTDROP, or the server never sent). ``--probes`` sockets per process also parse the TS: continuity
counter errors per PID and the video PES DTS.

Latency method (probes): the server's TS wire (src/srs/remux/ts.py TsWire) stamps video PES with the
FLV DTS x 90 on the server's timeline starting at the publish's first timestamp (0 here), so a video
PES whose first TS packet arrives at wall time t with DTS d gives latency = t - (t0 + d/90000),
where the publisher sent frame d/90 ms at t0 + d/90000 (its own slip is reported: it is included).
This includes SRT's receive latency (TSBPD: libsrt holds every packet until its send time + the
negotiated latency, the larger of the server's ``peerlatency``/``latency`` and ours, 120 ms default):
that part is the protocol's, not the server's; ``srt_latency_ms`` is printed (``--latency`` sets ours;
``--no-tsbpd`` turns TSBPD off in the players: what is left is the server's own latency).

The C++ SRS as the peer (``--spawn --cpp-srs trunk/objs/srs``: the same config, ports, CPU pin and
players): SRS 7 has no RTMP->SRT bridge (an SRT player there gets only an SRT publisher's TS), so
the clip is then published over SRT (``m=publish``) by :class:`SrtPublisher`; ``--srt-publish``
does the same with our server, for a like-for-like run. Its TS is our TsRemuxer's (DTS = FLV
timestamp x 90 from 0), so the latency method holds; it adds the ingest's TSBPD (120 ms default).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from typing import Any, cast

import psutil
import uvloop

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
from fanout_common import (  # noqa: E402
    SERVER_CPU,
    TOOL_CPU,
    SpawnedServer,
    fanout_args,
    publisher_summary,
    start_publisher,
)
from load import ProcTree, emit, raise_nofile  # noqa: E402
from players import Publisher, load_stream, now  # noqa: E402
from srs.format.flv import parse_audio, parse_video  # noqa: E402
from srs.media.message import AUDIO, VIDEO, MediaMessage  # noqa: E402
from srs.remux.ts import TsRemuxer, stream_types  # noqa: E402
from srs.server.srt import libsrt  # noqa: E402
from whep_load import clip_600k, free_port, hist_percentile  # noqa: E402

CONF = """
listen              {rtmp};
max_connections     4000;
daemon              off;
pid                 {dir}/srs.pid;
srs_log_tank        file;
srs_log_file        {dir}/srs.log;
srt_server {{
    enabled         on;
    listen          {srt};
}}
vhost __defaultVhost__ {{
    srt {{
        enabled     on;
        srt_to_rtmp on;
    }}
}}
"""
SRT_EPOLL_IN, SRT_EPOLL_ERR = libsrt.SRT_EPOLL_IN, libsrt.SRT_EPOLL_ERR
SRTO_RCVSYN, SRTO_LATENCY, SRTO_STREAMID = libsrt.SRTO_RCVSYN, libsrt.SRTO_LATENCY, libsrt.SRTO_STREAMID


class MsgCtrl(ctypes.Structure):  # SRT_MSGCTRL (srt.h, 1.5)
    _fields_ = [
        ("flags", ctypes.c_int),
        ("msgttl", ctypes.c_int),
        ("inorder", ctypes.c_int),
        ("boundary", ctypes.c_int),
        ("srctime", ctypes.c_int64),
        ("pktseq", ctypes.c_int32),
        ("msgno", ctypes.c_int32),
        ("grpdata", ctypes.c_void_p),
        ("grpdata_size", ctypes.c_size_t),
    ]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CppServer(SpawnedServer):
    """The C++ SRS binary with the same config, pinned to the same CPU (its pid: threads included)."""

    def __init__(self, binary: str, conf: str, **ports: int) -> None:
        self.dir = tempfile.mkdtemp(prefix="srs-fanout-bench-")
        path = os.path.join(self.dir, "srs.conf")
        with open(path, "w") as f:
            f.write(conf.format(dir=self.dir, **ports))
        pin = ["taskset", "-c", str(SERVER_CPU)] if shutil.which("taskset") else []
        self.proc = subprocess.Popen(
            [*pin, os.path.abspath(binary), "-c", path],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {TOOL_CPU})
        self.pid = self.proc.pid


def codec_of(kind: int, body: bytes) -> int:
    info = parse_video(body) if kind == VIDEO else parse_audio(body)
    return int(info.codec or 0)


class SrtPublisher:
    """The clip as MPEG-TS over SRT (``m=publish``), looped in real time by a thread (1316-byte
    messages, PAT/PMT before every keyframe). Has what publisher_summary() reads of a Publisher."""

    def __init__(self, srt_addr: str, app: str, stream: str, file: str) -> None:
        srt = libsrt.load()
        assert srt is not None, "no libsrt"
        self.srt, self.stream = srt, load_stream(file)
        self.lost: str | None = None
        self._t0 = 0.0
        self._sent: dict[tuple[int, int], float] = {}
        self._stop = threading.Event()
        host, port = srt_addr.rsplit(":", 1)
        for _ in range(100):  # a spawned server needs a moment
            self.sock = srt.create_socket()
            srt.set_str(self.sock, SRTO_STREAMID, f"#!::r={app}/{stream},m=publish")
            try:
                srt.connect(self.sock, host, int(port))
                break
            except OSError:
                srt.close(self.sock)
                time.sleep(0.1)
        else:
            raise ConnectionError(f"SRT publish to {srt_addr} failed")
        first = [i for i in self.stream.prelude + self.stream.items[:50] if i.msg_type in (AUDIO, VIDEO)]
        msgs = [MediaMessage(i.msg_type, 0, i.body, codec=codec_of(i.msg_type, i.body)) for i in first]
        self.remuxer = TsRemuxer(*stream_types(msgs))
        for i in self.stream.prelude:
            self.remuxer.encode(MediaMessage(i.msg_type, 0, i.body))  # the sequence headers
        self._t0 = now()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def sent_ts(self) -> dict[tuple[int, int], float]:
        return dict(self._sent)  # a copy: the thread adds to it

    def _run(self) -> None:
        items, loop_ms, loop_no, idx = self.stream.items, self.stream.loop_ms, 0, 0
        while not self._stop.is_set():
            it = items[idx]
            ts = loop_no * loop_ms + it.ts
            if self._stop.wait(max(0.0, self._t0 + ts / 1000 - now())):
                break
            data = self.remuxer.encode(MediaMessage(it.msg_type, ts, it.body))
            if it.msg_type == VIDEO and parse_video(it.body).is_keyframe:
                data = self.remuxer.tables() + data
            for off in range(0, len(data), 1316):
                if self.srt.sendmsg(self.sock, data[off : off + 1316]) < 0:
                    self.lost = f"SRT publish failed: error {self.srt.last_error()}"
                    return
            if it.crc is not None:
                self._sent[(it.msg_type, ts)] = now()
            idx = (idx + 1) % len(items)
            loop_no += idx == 0

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.srt.close(self.sock)


def pes_dts(pkt: bytes, p: int) -> int | None:
    """DTS (else PTS) of a video PES starting at ``p``, 90 kHz; None if not a video PES."""
    if pkt[p : p + 3] != b"\0\0\1" or not 0xE0 <= pkt[p + 3] <= 0xEF or len(pkt) < p + 14:
        return None
    q = p + (14 if pkt[p + 7] >> 6 == 3 else 9)
    if pkt[p + 7] >> 6 < 2 or len(pkt) < q + 5:
        return None
    b = pkt[q : q + 5]
    return ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


class Probe:
    """Continuity counters per PID and video DTS arrival times of one socket's TS."""

    def __init__(self) -> None:
        self.cc: dict[int, int] = {}
        self.cc_errors = 0
        self.ts_packets = 0
        self.dts_arrivals: list[tuple[int, float]] = []

    def feed(self, data: bytes, t: float) -> None:
        for off in range(0, len(data) - 187, 188):
            pkt = data[off : off + 188]
            self.ts_packets += 1
            pid, afc, cc = ((pkt[1] & 0x1F) << 8) | pkt[2], (pkt[3] >> 4) & 3, pkt[3] & 0x0F
            if pid == 0x1FFF or not afc & 1:
                continue
            last = self.cc.get(pid)
            if last is not None and cc != (last + 1) & 0x0F and cc != last:
                self.cc_errors += 1
            self.cc[pid] = cc
            if pkt[1] & 0x40:
                d = pes_dts(pkt, 4 + (1 + pkt[4] if afc & 2 else 0))
                if d is not None:
                    self.dts_arrivals.append((d, t))


def child(a: argparse.Namespace) -> dict[str, Any]:
    """The players of one process; prints ``ready`` when all are connected, the tally at the end."""
    srt = libsrt.load()
    assert srt is not None, "no libsrt"
    lib = srt.lib
    lib.srt_recvmsg2.restype = ctypes.c_int
    lib.srt_recvmsg2.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(MsgCtrl)]
    host, port = a.srt_addr.rsplit(":", 1)
    sid = f"#!::r={a.app}/{a.stream},m=request"
    socks: list[int] = []
    errors: Counter[str] = Counter()
    local_port = 0
    for _ in range(a.n):
        s = srt.create_socket()
        try:
            srt.set_str(s, SRTO_STREAMID, sid)
            srt.set_int(s, SRTO_LATENCY, a.latency)
            if a.no_tsbpd:  # messages as they arrive: no TSBPD hold (nor its thread), no TLPKTDROP
                srt.set_bool(s, libsrt.SRTO_TSBPDMODE, False)
            srt.bind(s, "127.0.0.1", local_port)  # one shared UDP port: one multiplexer per process
            local_port = local_port or srt.sockname(s)[1]
            srt.connect(s, host, int(port))
            srt.set_bool(s, SRTO_RCVSYN, False)
            socks.append(s)
        except OSError as e:
            errors[str(e)[:120]] += 1
            srt.close(s)
    print("ready", flush=True)
    # The tally starts at the parent's "go" (sent once every process is connected: a ramp of tens of
    # seconds at 1000 players must not eat the window); until then the sockets are read and not counted.
    go = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), go.set()), daemon=True).start()
    since, end, counting = math.inf, math.inf, False
    eid = srt.epoll_create()
    for s in socks:
        srt.epoll_add(eid, s, SRT_EPOLL_IN | SRT_EPOLL_ERR)
    index = {s: i for i, s in enumerate(socks)}
    probes = {s: Probe() for s in socks[: a.probes]}
    msgs, nbytes, gaps, last_no = [0] * len(socks), [0] * len(socks), [0] * len(socks), [-1] * len(socks)
    broken: set[int] = set()
    cap = max(16, len(socks))
    events = (libsrt.SrtEpollEvent * cap)()
    buf = ctypes.create_string_buffer(1500)
    ctrl = MsgCtrl()
    pctrl = ctypes.byref(ctrl)
    while time.monotonic() < end:
        if not counting and go.is_set():
            counting, since, end = True, time.time() + a.warmup, time.monotonic() + a.seconds
            msgs, nbytes, gaps = [0] * len(socks), [0] * len(socks), [0] * len(socks)
            for pr in probes.values():
                pr.dts_arrivals.clear()
        n = lib.srt_epoll_uwait(eid, events, cap, 100)
        t = time.time()
        for k in range(max(0, n)):
            s = events[k].fd
            i = index[s]
            while True:
                r = lib.srt_recvmsg2(s, buf, 1500, pctrl)
                if r <= 0:
                    if r < 0 and srt.last_error() != 6002:  # SRT_EASYNCRCV: nothing more now
                        broken.add(s)
                        srt.epoll_remove(eid, s)
                    break
                msgs[i] += 1
                nbytes[i] += r
                no = ctrl.msgno
                if last_no[i] >= 0 and no > last_no[i] + 1:
                    gaps[i] += no - last_no[i] - 1
                last_no[i] = no
                if s in probes:
                    probes[s].feed(buf.raw[:r], t)
    hist: Counter[int] = Counter()
    for p in probes.values():
        seen: set[int] = set()
        for d, t in p.dts_arrivals:
            if t >= since and d not in seen:
                seen.add(d)
                hist[round((t - (a.t0_wall + d / 90_000)) * 1000)] += 1
    kbps = sorted(b * 8 / 1000 / a.seconds for b in nbytes)
    for s in socks:
        srt.close(s)
    return {
        "players": a.n,
        "connected": len(socks),
        "broken": len(broken),
        "errors": dict(errors),
        "messages": sum(msgs),
        "bytes": sum(nbytes),
        "msg_gaps": sum(gaps),
        "kbps": kbps,
        "probe_ts_packets": sum(p.ts_packets for p in probes.values()),
        "probe_cc_errors": sum(p.cc_errors for p in probes.values()),
        "latency_hist_ms": {str(k): v for k, v in hist.items()},
    }


async def run(a: argparse.Namespace) -> dict[str, Any]:
    server: SpawnedServer | None = None
    if a.spawn:
        rtmp, srt_port = free_port(), free_udp_port()
        if a.cpp_srs:
            server = CppServer(a.cpp_srs, CONF, rtmp=rtmp, srt=srt_port)
        else:
            server = SpawnedServer(CONF, a.cprofile, rtmp=rtmp, srt=srt_port)
        a.rtmp, a.srt, a.server_pid = f"rtmp://127.0.0.1:{rtmp}", f"127.0.0.1:{srt_port}", server.pid
    pub: Publisher | SrtPublisher | None = None
    try:
        if a.srt_publish or a.cpp_srs:
            pub = SrtPublisher(a.srt, a.app, a.stream, a.file)
            t0_wall = time.time() - (now() - pub._t0)
            await asyncio.sleep(1.0)  # a GOP on its way, as start_publisher waits
        else:
            pub, t0_wall = await start_publisher(a.rtmp, a.app, a.stream, a.file)
        tree = ProcTree(a.server_pid) if a.server_pid else None
        per = [a.n // a.P + (1 if i < a.n % a.P else 0) for i in range(a.P)]
        procs = []
        t_ramp = time.monotonic()
        for k in per:
            cmd = [sys.executable, os.path.abspath(__file__), "--child", "--srt", a.srt, "-n", str(k)]
            cmd += [
                "--seconds",
                str(a.window + a.warmup + 1),
                "--t0-wall",
                repr(t0_wall),
                "--warmup",
                str(a.warmup),
            ]
            cmd += [
                "--probes",
                str(a.probes),
                "--latency",
                str(a.latency),
                "--app",
                a.app,
                "--stream",
                a.stream,
            ]
            cmd += ["--no-tsbpd"] if a.no_tsbpd else []
            procs.append(
                await asyncio.create_subprocess_exec(*cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            )
        for p in procs:
            assert p.stdout is not None
            await p.stdout.readline()  # "ready"
        ramp_s = time.monotonic() - t_ramp
        for p in procs:
            assert p.stdin is not None
            p.stdin.write(b"go\n")  # every process counts over the same seconds from here
            await p.stdin.drain()
        await asyncio.sleep(a.warmup)
        players = [ProcTree(p.pid) for p in procs]
        cpu0, w0 = (tree.cpu_s() if tree else 0.0), time.monotonic()
        pcpu0, idle0 = sum(t.cpu_s() for t in players), psutil.cpu_times().idle
        await asyncio.sleep(a.window)
        dt = time.monotonic() - w0
        cpu = (tree.cpu_s() - cpu0) / dt * 100 if tree else None
        # the players' side too: when their CPU (libsrt's receive threads) saturates, the losses are theirs
        pcpu = (sum(t.cpu_s() for t in players) - pcpu0) / dt * 100
        idle = (psutil.cpu_times().idle - idle0) / dt * 100
        rss, threads = (tree.rss(), tree.root.num_threads()) if tree else (0, 0)
        parts = [json.loads(out) for out, _ in await asyncio.gather(*(p.communicate() for p in procs))]
        return (
            summarize(a, parts, cpu, dt, ramp_s, rss, threads)
            | {"players_cpu_pct": round(pcpu, 1), "machine_idle_pct": round(idle, 1)}
            | publisher_summary(cast(Publisher, pub))  # SrtPublisher: the same fields
        )
    finally:
        if pub is not None:
            pub.close()
        if server is not None:
            server.stop()


def summarize(
    a: argparse.Namespace,
    parts: list[dict[str, Any]],
    cpu: float | None,
    dt: float,
    ramp_s: float,
    rss: int,
    threads: int,
) -> dict[str, Any]:
    hist: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    kbps: list[float] = []
    for p in parts:
        hist.update({int(k): v for k, v in p["latency_hist_ms"].items()})
        errors.update(p["errors"])
        kbps += p["kbps"]
    kbps.sort()
    msgs, gaps = sum(p["messages"] for p in parts), sum(p["msg_gaps"] for p in parts)
    return {
        "players": a.n,
        "connected": sum(p["connected"] for p in parts),
        "broken": sum(p["broken"] for p in parts),
        "errors": dict(errors.most_common(10)),
        "connect_ramp_s": round(ramp_s, 1),
        "messages": msgs,
        "msg_missing_pct": round(100 * gaps / (msgs + gaps), 3) if msgs else None,
        "kbps_per_player_min": round(kbps[0], 1) if kbps else None,
        "kbps_per_player_p50": round(kbps[len(kbps) // 2], 1) if kbps else None,
        "probe_ts_packets": sum(p["probe_ts_packets"] for p in parts),
        "probe_cc_errors": sum(p["probe_cc_errors"] for p in parts),
        "latency_samples": sum(hist.values()),
        "latency_p50_ms": hist_percentile(hist, 50),
        "latency_p95_ms": hist_percentile(hist, 95),
        "latency_max_ms": float(max(hist)) if hist else None,
        "srt_latency_ms": 0 if a.no_tsbpd else a.latency,
        "server_cpu_pct": None if cpu is None else round(cpu, 1),
        "server_rss_mb": round(rss / 2**20, 1),
        "server_threads": threads,
        "window_s": round(dt, 1),
        "processes": a.P,
    }


def main() -> None:
    ap = fanout_args(__doc__, "srtbench", "start our server (srt_server) itself", processes=2)
    ap.add_argument("--srt", default="127.0.0.1:10080", help="the server's SRT host:port")
    ap.add_argument("--cprofile", default="", help="with --spawn: run the server under cProfile, stats here")
    ap.add_argument("--probes", type=int, default=3, help="sockets per process that parse the TS")
    ap.add_argument("--latency", type=int, default=120, help="our SRTO_LATENCY, ms")
    ap.add_argument("--no-tsbpd", action="store_true", help="players without TSBPD: the server's own latency")
    ap.add_argument(
        "--cpp-srs",
        default="",
        help="with --spawn: the C++ SRS binary instead of ours (implies --srt-publish)",
    )
    ap.add_argument("--srt-publish", action="store_true", help="publish the clip over SRT instead of RTMP")
    a = ap.parse_args()
    raise_nofile()
    if a.child:
        a.srt_addr = a.srt
        print(json.dumps(child(a)))
        return
    a.file = a.file or clip_600k()
    result = uvloop.run(run(a))
    emit(result, a.out)


if __name__ == "__main__":
    main()
