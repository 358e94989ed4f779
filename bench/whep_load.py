"""WHEP load: N non-decoding WebRTC players of one stream the bench publishes over RTMP.

    .venv/bin/python bench/whep_load.py -n 200 [-P 2] --api http://127.0.0.1:1985 \\
        --rtmp rtmp://127.0.0.1:1935 [--server-pid PID] [--window 30] [--out bench/results/whep-200.json]
    .venv/bin/python bench/whep_load.py -n 50 --spawn     # starts our server itself (CPU 0)

What it does: encodes a ~600 kbit/s clip once (ffmpeg lavfi: 640x360 25 fps H.264 baseline, no
B-frames, GOP 2 s + AAC 48 kHz, 10 s, cached in bench/results/), publishes it looped in real time
to ``<rtmp>/<app>/<stream>`` with bench/players.py's Publisher (our sans-IO RTMP client, which
records when each frame left), then opens N players (``--ramp`` per second) on
``<api>/rtc/v1/whep/?app=<app>&stream=<stream>``, in this process or spread over ``-P`` child
processes. Each player is bench/whep_client.py's WhepSession: hand-built offer, STUN with
USE-CANDIDATE (+ consent every 5 s), DTLS client, SRTP unprotect, packets counted per SSRC. After
the ramp the window starts: the server's CPU (% of one core, /proc via psutil, ``--server-pid`` or
the spawned server) over ``--window`` s. Then every player DELETEs its session.

Summary (JSON): players connected / failed (with the errors), delivery % per kind
(unique packets / the sequence-number span they cover, summed over the players), packets/s,
first-RTP time p50/p95, the added latency p50/p95/max, and the server's CPU.

Latency method: the publisher sends the frame with FLV timestamp T (ms) at wall time
``t0 + T/1000`` (t0: when it started sending media; it paces on a 5 ms timer); a WebRTC player of
an RTMP stream gets video RTP timestamps ``T * 90`` (SRS's bridge: FLV ms x 90, the server's
timeline starting at the publish's first timestamp, which is 0 here). For each new video RTP
timestamp the player records its arrival wall time; latency = arrival - (t0 + ts/90/1000), over
the frames that arrived after the ramp + ``--warmup`` (a new player first gets the GOP cache in a
burst: old frames, not latency). Error bound: the publisher's own lateness against its schedule
is included (the numbers are high by up to it), measured from the exact send times it records
and printed as ``publisher_slip_ms`` (p95/max; about the 5 ms pacing tick when it is not
starved); wall clocks are one machine's (child processes too). Plus the RTP timestamp mapping: a server adding an offset to RTP timestamps makes the
numbers meaningless (``latency_suspect`` is set when the median is below -100 ms or above 60 s).
Only video is measured; audio is transcoded (AAC -> Opus) and has its own timeline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable
from typing import Any

import aiohttp
import uvloop

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fanout_common import fanout_args, publisher_summary, start_publisher  # noqa: E402
from load import ProcTree, emit, raise_nofile  # noqa: E402
from players import Publisher  # noqa: E402
from srs.protocol.rtc.dtls import generate_certificate  # noqa: E402
from whep_client import AUDIO_PT, SessionResult, WhepSession  # noqa: E402

REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
SERVER_CPU, TOOL_CPU = 0, 1
VIDEO_MSG = 9  # RTMP message type of video

CONF = """
listen              {rtmp};
max_connections     4000;
daemon              off;
srs_log_tank        file;
srs_log_file        {dir}/srs.log;
pid                 {dir}/srs.pid;
http_api {{
    enabled         on;
    listen          {api};
}}
rtc_server {{
    enabled         on;
    listen          {udp};
    candidate       127.0.0.1;
}}
vhost __defaultVhost__ {{
    rtc {{
        enabled     on;
        rtmp_to_rtc on;
    }}
}}
"""


def clip_600k() -> str:
    path = os.path.join(RESULTS, "whep-600k.flv")
    if not os.path.exists(path):
        os.makedirs(RESULTS, exist_ok=True)
        v = "testsrc2=size=640x360:rate=25:duration=10"
        a = "sine=frequency=440:sample_rate=48000:duration=10"
        x264 = "-c:v libx264 -preset veryfast -profile:v baseline -b:v 520k -maxrate 600k -bufsize 600k"
        cmd = ["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i", v, "-f", "lavfi", "-i", a]
        cmd += [*x264.split(), "-g", "50", "-keyint_min", "50", "-sc_threshold", "0"]
        cmd += ["-c:a", "aac", "-b:a", "64k", "-ar", "48000", "-f", "flv", path + ".tmp"]
        subprocess.run(cmd, check=True)
        os.replace(path + ".tmp", path)
    return path


def percentile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def hist_percentile(hist: Counter[int], q: float) -> float | None:
    total = sum(hist.values())
    if not total:
        return None
    want = q / 100 * (total - 1)
    seen = 0
    for ms in sorted(hist):
        seen += hist[ms]
        if seen > want:
            return float(ms)
    return float(max(hist))


# --------------------------------------------------------------------------- players


def tally(results: list[SessionResult], t0_wall: float, since_wall: float = 0.0) -> dict[str, Any]:
    """What a process reports: counts, and latency as a 1 ms histogram (mergeable) of the frames
    that arrived after ``since_wall`` (not the GOP-cache burst a new player gets first)."""
    errors: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = {"audio": Counter(), "video": Counter()}
    hist: Counter[int] = Counter()
    first_rtp: list[float] = []
    for r in results:
        if r.error:
            errors[r.error[:120]] += 1
        if r.first_rtp_s is not None:
            first_rtp.append(r.first_rtp_s)
        for st in r.ssrcs.values():
            k = kinds["audio" if st.pt == AUDIO_PT else "video"]
            k["packets"] += st.packets
            k["unique"] += len(st.unique)
            k["expected"] += st.expected
            k["bytes"] += st.bytes
            for ts, wall in st.frame_arrivals:
                if wall >= since_wall:
                    hist[round((wall - (t0_wall + ts / 90 / 1000)) * 1000)] += 1
    return {
        "players": len(results),
        "connected": sum(1 for r in results if r.ok),
        "errors": dict(errors),
        "kinds": {k: dict(v) for k, v in kinds.items()},
        "latency_hist_ms": {str(k): v for k, v in hist.items()},
        "first_rtp_s": first_rtp,
        "srtp_errors": sum(r.srtp_errors for r in results),
    }


async def run_players(
    url: str, n: int, ramp: float, seconds: float, t0_wall: float, warmup: float = 0.0
) -> dict[str, Any]:
    """``n`` players started ``ramp`` per second, each kept ``seconds`` after the last started;
    latency samples from ``warmup`` seconds after the last started."""
    cert = generate_certificate()
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=20)) as http:
        sessions = [WhepSession(cert) for _ in range(n)]
        tasks = []
        per_s = max(1, int(ramp))
        for i, s in enumerate(sessions):
            tasks.append(asyncio.ensure_future(s.run(http, url, stop)))
            if ramp > 0 and i % per_s == per_s - 1:
                await asyncio.sleep(1)
        since = time.time() + warmup
        await asyncio.sleep(seconds)
        stop.set()
        results = await asyncio.gather(*tasks)
    return tally(list(results), t0_wall, since)


async def run_children(a: argparse.Namespace, url: str, t0_wall: float) -> list[dict[str, Any]]:
    per = [a.n // a.P + (1 if i < a.n % a.P else 0) for i in range(a.P)]
    procs = []
    for k in per:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--whep", url, "-n", str(k)]
        cmd += [
            "--ramp",
            str(a.ramp / a.P),
            "--seconds",
            str(a.window + a.warmup),
            "--t0-wall",
            repr(t0_wall),
        ]
        procs.append(await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE))
    outs = await asyncio.gather(*(p.communicate() for p in procs))
    return [json.loads(out) for out, _ in outs]


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    errors: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = {"audio": Counter(), "video": Counter()}
    hist: Counter[int] = Counter()
    first_rtp: list[float] = []
    for p in parts:
        errors.update(p["errors"])
        for k, v in p["kinds"].items():
            kinds[k].update(v)
        hist.update({int(k): v for k, v in p["latency_hist_ms"].items()})
        first_rtp += p["first_rtp_s"]
    out: dict[str, Any] = {
        "players": sum(p["players"] for p in parts),
        "connected": sum(p["connected"] for p in parts),
        "errors": dict(errors.most_common(10)),
        "srtp_errors": sum(p["srtp_errors"] for p in parts),
    }
    for k, c in kinds.items():
        out[f"{k}_packets"] = c["packets"]
        out[f"{k}_delivered_pct"] = round(100 * c["unique"] / c["expected"], 2) if c["expected"] else None
    out["first_rtp_p50_s"] = _r(percentile(first_rtp, 50), 3)
    out["first_rtp_p95_s"] = _r(percentile(first_rtp, 95), 3)
    p50 = hist_percentile(hist, 50)
    out["latency_samples"] = sum(hist.values())
    out["latency_p50_ms"] = p50
    out["latency_p95_ms"] = hist_percentile(hist, 95)
    out["latency_max_ms"] = float(max(hist)) if hist else None
    out["latency_suspect"] = p50 is not None and not (-100 <= p50 <= 60_000)
    return out


async def _one(part: Awaitable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [await part]


def _r(x: float | None, nd: int) -> float | None:
    return None if x is None else round(x, nd)


# --------------------------------------------------------------------------- the run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(a: argparse.Namespace) -> dict[str, Any]:
    server: subprocess.Popen[bytes] | None = None
    workdir = ""
    if a.spawn:
        workdir = tempfile.mkdtemp(prefix="srs-whep-bench-")
        rtmp, api, udp = free_port(), free_port(), free_port()
        conf = os.path.join(workdir, "srs.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(rtmp=rtmp, api=api, udp=udp, dir=workdir))
        server = subprocess.Popen(
            ["taskset", "-c", str(SERVER_CPU), sys.executable, "-m", "srs", "-c", conf],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.sched_setaffinity(0, {TOOL_CPU})
        a.rtmp, a.api, a.server_pid = f"rtmp://127.0.0.1:{rtmp}", f"http://127.0.0.1:{api}", server.pid
    url = f"{a.api}/rtc/v1/whep/?app={a.app}&stream={a.stream}"
    pub: Publisher | None = None
    try:
        t0_wall = time.time()
        if not a.no_publish:  # the server has the stream (and a GOP) before players come
            pub, t0_wall = await start_publisher(a.rtmp, a.app, a.stream, a.file)
        tree = ProcTree(a.server_pid) if a.server_pid else None
        ramp_s = a.n / a.ramp if a.ramp > 0 else 0
        players: asyncio.Future[list[dict[str, Any]]]
        if a.P <= 1:
            players = asyncio.ensure_future(
                _one(run_players(url, a.n, a.ramp, a.window + a.warmup, t0_wall, a.warmup))
            )
        else:
            players = asyncio.ensure_future(run_children(a, url, t0_wall))
        await asyncio.sleep(ramp_s + a.warmup)
        cpu0, w0 = (tree.cpu_s() if tree else 0.0), time.monotonic()
        await asyncio.sleep(a.window)
        dt = time.monotonic() - w0
        cpu = (tree.cpu_s() - cpu0) / dt * 100 if tree else None
        out = merge(await players)
        out.update({"server_cpu_pct": _r(cpu, 1), "window_s": round(dt, 1), "whep": url, "processes": a.P})
        if pub is not None:
            out.update(publisher_summary(pub))
        return out
    finally:
        if pub is not None:
            pub.close()
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    ap = fanout_args(__doc__, "whepbench", "start our server (rtc_server + http_api) itself", processes=1)
    ap.add_argument("--api", default="http://127.0.0.1:1985")
    ap.add_argument("--no-publish", action="store_true", help="the stream is already published")
    ap.add_argument("--ramp", type=float, default=50, help="players started per second")
    ap.add_argument("--whep", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    raise_nofile()
    if a.child:
        print(json.dumps(uvloop.run(run_players(a.whep, a.n, a.ramp, a.seconds, a.t0_wall, a.warmup))))
        return
    a.file = a.file or clip_600k()
    result = uvloop.run(run(a))
    emit(result, a.out)


if __name__ == "__main__":
    main()
