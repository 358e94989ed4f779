"""RTSP fan-out: N RTSP players (RTP over TCP interleaved) of one stream the bench publishes over RTMP.

    .venv/bin/python bench/rtsp_load.py -n 1000 -P 2 --spawn [--window 30] [--out bench/results/rtsp-1000.json]
    .venv/bin/python bench/rtsp_load.py -n 100 --rtsp rtsp://127.0.0.1:8554 --rtmp rtmp://127.0.0.1:1935 \\
        --server-pid PID          # a server already running with rtsp_server + vhost rtsp { rtmp_to_rtsp on; }

The publisher, the clip (whep_load.py's ~600 kbit/s 640x360 H.264 baseline + AAC, looped in real
time by bench/players.py's Publisher), ``--spawn`` (server on CPU 0, players on CPU 1), the server's
CPU window (psutil on the server's pid) and the latency histogram are whep_load.py's. Each player is
an asyncio Protocol (``-P`` processes, ``--ramp`` players per second): OPTIONS, DESCRIBE, SETUP of
every ``a=control`` track with ``RTP/AVP/TCP;unicast;interleaved=2i-2i+1``, PLAY, then it reads the
``$`` frames: RTP packets and bytes per channel, sequence gaps (a packet missing from the TCP stream
is one the server dropped for a slow player) and RTCP packets.

Latency method: our RTSP wire (src/srs/remux/rtsp_out.py) stamps video RTP with the presentation
time, FLV (DTS + CTS) ms x 90, on the server's timeline that starts at the publish's first timestamp
(0 here); the clip has no B-frames, so it is DTS x 90, the publisher's FLV timestamp T x 90. For each
new video RTP timestamp a player records its arrival wall time; latency = arrival - (t0 + ts/90/1000)
where the publisher sent frame T at t0 + T/1000 (its own slip is reported: it is included). Only
frames that arrived ``--warmup`` s after the ramp count (a new player first gets the GOP cache).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import struct
import subprocess
import sys
import time
from collections import Counter
from typing import Any
from urllib.parse import urlparse

import uvloop

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fanout_common import SpawnedServer, fanout_args, publisher_summary, start_publisher  # noqa: E402
from load import ProcTree, emit, raise_nofile  # noqa: E402
from whep_load import clip_600k, free_port, hist_percentile, percentile  # noqa: E402

CONF = """
listen              {rtmp};
max_connections     4000;
daemon              off;
srs_log_tank        file;
srs_log_file        {dir}/srs.log;
rtsp_server {{
    enabled         on;
    listen          {rtsp};
}}
vhost __defaultVhost__ {{
    rtsp {{
        enabled      on;
        rtmp_to_rtsp on;
    }}
}}
"""
_RTP = struct.Struct(">BBHI")  # V/P/X/CC, M/PT, sequence, timestamp
_FRAME = struct.Struct(">BBH")  # '$', channel, length


class RtspPlayer(asyncio.Protocol):
    """One RTSP player: the requests in order, then ``$`` frames counted per channel."""

    def __init__(self, url: str, since: list[float], t0_wall: float) -> None:
        self.url = url
        self.since = since  # [wall time latency samples start]: set by the runner after the ramp
        self.t0_wall = t0_wall
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.cseq = 0
        self.step = "OPTIONS"
        self.session = ""
        self.controls: list[str] = []
        self.base = url
        self.error: str | None = None
        self.playing = False
        self.t_start = time.time()
        self.first_rtp_s: float | None = None
        self.video_ch = -1
        self.packets: Counter[int] = Counter()  # channel -> RTP (even) / RTCP (odd) packets
        self.bytes = 0
        self.gaps: Counter[int] = Counter()  # channel -> packets missing by sequence number
        self.last_seq: dict[int, int] = {}
        self.last_ts = -1
        self.hist: Counter[int] = Counter()  # video frame latency, 1 ms bins

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.request("OPTIONS", self.url)

    def request(self, method: str, uri: str, extra: str = "") -> None:
        self.cseq += 1
        sess = f"Session: {self.session}\r\n" if self.session else ""
        msg = f"{method} {uri} RTSP/1.0\r\nCSeq: {self.cseq}\r\nUser-Agent: srs-bench\r\n{sess}{extra}\r\n"
        assert self.transport is not None
        self.transport.write(msg.encode())

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.playing:
            self.on_response()
        if self.playing:
            self.on_frames(time.time())

    def on_response(self) -> None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0 or self.buf[:1] == b"$":
            return
        head = self.buf[:end].decode("latin-1")
        clen = int(m.group(1)) if (m := re.search(r"(?im)^content-length:\s*(\d+)", head)) else 0
        if len(self.buf) < end + 4 + clen:
            return
        body = self.buf[end + 4 : end + 4 + clen].decode("latin-1")
        del self.buf[: end + 4 + clen]
        status = head.split(" ", 2)[1] if " " in head else "?"
        if status != "200":
            return self.fail(f"{self.step} answered {head.splitlines()[0]}")
        if m := re.search(r"(?im)^session:\s*([^;\r\n]+)", head):
            self.session = m.group(1).strip()
        if self.step == "OPTIONS":
            self.step = "DESCRIBE"
            self.request("DESCRIBE", self.url, "Accept: application/sdp\r\n")
        elif self.step == "DESCRIBE":
            if m := re.search(r"(?im)^content-base:\s*(\S+)", head):
                self.base = m.group(1)
            kind = ""
            for line in body.splitlines():
                if line.startswith("m="):
                    kind = line[2:].split(" ", 1)[0]
                elif line.startswith("a=control:") and kind:
                    if kind == "video":
                        self.video_ch = 2 * len(self.controls)
                    self.controls.append(line[len("a=control:") :].strip())
            self.step = "SETUP"
            self.setup()
        elif self.step == "SETUP":
            self.setup()
        elif self.step == "PLAY":
            self.playing = True

    def setup(self) -> None:
        i = self.cseq - 2  # requests so far: OPTIONS, DESCRIBE, then one SETUP per track
        if i < len(self.controls):
            c = self.controls[i]
            uri = c if "://" in c else self.base.rstrip("/") + "/" + c
            self.request("SETUP", uri, f"Transport: RTP/AVP/TCP;unicast;interleaved={2 * i}-{2 * i + 1}\r\n")
        else:
            self.step = "PLAY"
            self.request("PLAY", self.base, "Range: npt=0.000-\r\n")

    def on_frames(self, t: float) -> None:
        buf, pos, n = self.buf, 0, len(self.buf)
        while n - pos >= 4:
            if buf[pos] != 0x24:  # an RTSP message (none expected while playing): skip it
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    break
                pos = end + 4
                continue
            _, ch, size = _FRAME.unpack_from(buf, pos)
            if n - pos - 4 < size:
                break
            self.packets[ch] += 1
            self.bytes += size
            if not ch & 1 and size >= 12:
                _, _, seq, ts = _RTP.unpack_from(buf, pos + 4)
                last = self.last_seq.get(ch)
                if last is not None:
                    d = (seq - last) & 0xFFFF
                    if 1 < d < 0x8000:
                        self.gaps[ch] += d - 1
                self.last_seq[ch] = seq
                if ch == self.video_ch and ts != self.last_ts:
                    self.last_ts = ts
                    if self.first_rtp_s is None:
                        self.first_rtp_s = t - self.t_start
                    if t >= self.since[0]:
                        self.hist[round((t - (self.t0_wall + ts / 90_000)) * 1000)] += 1
            pos += 4 + size
        del buf[:pos]

    def fail(self, why: str) -> None:
        if self.error is None:
            self.error = why
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.error is None and self.transport is not None:
            self.error = f"connection lost at {self.step}: {exc}"
        self.transport = None


async def run_players(
    url: str, n: int, ramp: float, seconds: float, t0_wall: float, warmup: float
) -> dict[str, Any]:
    r = urlparse(url)
    loop = asyncio.get_running_loop()
    since = [float("inf")]
    players: list[RtspPlayer] = []
    per_s = max(1, int(ramp))
    for i in range(n):
        p = RtspPlayer(url, since, t0_wall)
        players.append(p)
        try:
            await loop.create_connection(lambda p=p: p, r.hostname or "127.0.0.1", r.port or 554)  # type: ignore[misc]
        except OSError as e:
            p.error = f"connect: {e}"
        if ramp > 0 and i % per_s == per_s - 1:
            await asyncio.sleep(1)
    since[0] = time.time() + warmup
    await asyncio.sleep(seconds)
    out = tally(players)
    for p in players:
        if p.transport is not None:
            p.transport.abort()
    return out


def tally(players: list[RtspPlayer]) -> dict[str, Any]:
    errors: Counter[str] = Counter()
    hist: Counter[int] = Counter()
    kinds: dict[str, Counter[str]] = {"video": Counter(), "audio": Counter()}
    for p in players:
        if p.error:
            errors[p.error[:120]] += 1
        hist.update(p.hist)
        for ch, k in p.packets.items():
            if ch & 1:
                kinds["video" if ch - 1 == p.video_ch else "audio"]["rtcp"] += k
                continue
            c = kinds["video" if ch == p.video_ch else "audio"]
            c["packets"] += k
            c["gaps"] += p.gaps[ch]
        kinds["video"]["bytes"] += p.bytes
    return {
        "players": len(players),
        "playing": sum(1 for p in players if p.playing and p.error is None),
        "errors": dict(errors),
        "kinds": {k: dict(v) for k, v in kinds.items()},
        "latency_hist_ms": {str(k): v for k, v in hist.items()},
        "first_rtp_s": [p.first_rtp_s for p in players if p.first_rtp_s is not None],
    }


def merge(parts: list[dict[str, Any]], window_s: float) -> dict[str, Any]:
    errors: Counter[str] = Counter()
    hist: Counter[int] = Counter()
    kinds: dict[str, Counter[str]] = {"video": Counter(), "audio": Counter()}
    first: list[float] = []
    for p in parts:
        errors.update(p["errors"])
        hist.update({int(k): v for k, v in p["latency_hist_ms"].items()})
        for k, v in p["kinds"].items():
            kinds[k].update(v)
        first += p["first_rtp_s"]
    out: dict[str, Any] = {
        "players": sum(p["players"] for p in parts),
        "playing_at_end": sum(p["playing"] for p in parts),
        "errors": dict(errors.most_common(10)),
    }
    for k, c in kinds.items():
        out[f"{k}_packets"] = c["packets"]
        out[f"{k}_missing_pct"] = (
            round(100 * c["gaps"] / (c["packets"] + c["gaps"]), 3) if c["packets"] else None
        )
    out["bytes"] = kinds["video"]["bytes"]
    f50, f95 = percentile(first, 50), percentile(first, 95)
    out["first_rtp_p50_s"] = None if f50 is None else round(f50, 3)
    out["first_rtp_p95_s"] = None if f95 is None else round(f95, 3)
    out["latency_samples"] = sum(hist.values())
    out["latency_p50_ms"] = hist_percentile(hist, 50)
    out["latency_p95_ms"] = hist_percentile(hist, 95)
    out["latency_p99_ms"] = hist_percentile(hist, 99)
    out["latency_max_ms"] = float(max(hist)) if hist else None
    return out


async def run_children(a: argparse.Namespace, url: str, t0_wall: float) -> list[dict[str, Any]]:
    per = [a.n // a.P + (1 if i < a.n % a.P else 0) for i in range(a.P)]
    procs = []
    for k in per:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--rtsp", url, "-n", str(k)]
        cmd += [
            "--ramp",
            str(a.ramp / a.P),
            "--seconds",
            str(a.window + a.warmup),
            "--t0-wall",
            repr(t0_wall),
        ]
        cmd += ["--warmup", str(a.warmup)]
        procs.append(await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE))
    outs = await asyncio.gather(*(p.communicate() for p in procs))
    return [json.loads(out) for out, _ in outs]


async def run(a: argparse.Namespace) -> dict[str, Any]:
    server = None
    if a.spawn:
        rtmp, rtsp = free_port(), free_port()
        server = SpawnedServer(CONF, a.cprofile, rtmp=rtmp, rtsp=rtsp)
        a.rtmp, a.rtsp, a.server_pid = f"rtmp://127.0.0.1:{rtmp}", f"rtsp://127.0.0.1:{rtsp}", server.pid
    url = f"{a.rtsp}/{a.app}/{a.stream}"
    pub = None
    try:
        pub, t0_wall = await start_publisher(a.rtmp, a.app, a.stream, a.file)
        tree = ProcTree(a.server_pid) if a.server_pid else None
        if a.P <= 1:
            job = run_players(url, a.n, a.ramp, a.window + a.warmup, t0_wall, a.warmup)
            players = asyncio.ensure_future(asyncio.gather(job))
        else:
            players = asyncio.ensure_future(run_children(a, url, t0_wall))
        await asyncio.sleep((a.n / a.ramp if a.ramp > 0 else 0) + a.warmup)
        cpu0, w0 = (tree.cpu_s() if tree else 0.0), time.monotonic()
        rss = 0
        await asyncio.sleep(a.window)
        dt = time.monotonic() - w0
        cpu = (tree.cpu_s() - cpu0) / dt * 100 if tree else None
        rss = tree.rss() if tree else 0
        out = merge(list(await players), dt)
        per_player_kbps = out["bytes"] * 8 / 1000 / max(1, out["players"]) / (a.window + a.warmup)
        out.update(
            {
                "server_cpu_pct": None if cpu is None else round(cpu, 1),
                "server_rss_mb": round(rss / 2**20, 1),
                "window_s": round(dt, 1),
                "kbps_per_player_approx": round(per_player_kbps, 1),
                "rtsp": url,
                "processes": a.P,
            }
        )
        out.update(publisher_summary(pub))
        return out
    finally:
        if pub is not None:
            pub.close()
        if server is not None:
            server.stop()


def main() -> None:
    ap = fanout_args(__doc__, "rtspbench", "start our server (rtsp_server) itself", processes=1)
    ap.add_argument("--rtsp", default="rtsp://127.0.0.1:8554")
    ap.add_argument("--cprofile", default="", help="with --spawn: run the server under cProfile, stats here")
    ap.add_argument("--ramp", type=float, default=100, help="players started per second")
    a = ap.parse_args()
    raise_nofile()
    if a.child:
        print(json.dumps(uvloop.run(run_players(a.rtsp, a.n, a.ramp, a.seconds, a.t0_wall, a.warmup))))
        return
    a.file = a.file or clip_600k()
    result = uvloop.run(run(a))
    emit(result, a.out)


if __name__ == "__main__":
    main()
