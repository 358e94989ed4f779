"""HLS ingest load: N streams published over RTMP at ~1 Mbit/s, each with HLS (TS segments) on.

    .venv/bin/python bench/hls_load.py -n 200 --window 60 [--out bench/results/hls-200.json]

What it does: encodes a 1 Mbit/s clip once (ffmpeg lavfi: 640x360 25 fps H.264 + AAC, 10 s,
cached in bench/results/), starts the server pinned to CPU 0 with ``hls { hls_fragment 2;
hls_window 10; }`` writing to a temp dir, publishes the clip looped in real time on N RTMP
connections (this tool pinned to CPU 1, bench/players.py's Publisher), waits ``--warmup`` s, then
measures for ``--window`` s: the server's CPU (% of one core), its RSS every second (first, max,
last: flat while segments rotate?), the publishers that fell behind (bytes waiting in their
transports), and at the end how many streams have a playlist whose newest segment is recent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import psutil
import uvloop

from load import ProcTree, emit, raise_nofile
from players import Publisher, load_stream

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
SERVER_CPU, TOOL_CPU = 0, 1

CONF = """
listen              {rtmp};
max_connections     2000;
daemon              off;
srs_log_tank        file;
srs_log_file        {dir}/srs.log;
pid                 {dir}/srs.pid;
vhost __defaultVhost__ {{
    hls {{
        enabled         on;
        hls_fragment    {fragment};
        hls_window      {hls_window};
        hls_path        {dir}/html;
        {extra}
    }}
}}
"""


def clip_1mbps() -> str:
    path = os.path.join(RESULTS, "hls-1mbps.flv")
    if not os.path.exists(path):
        os.makedirs(RESULTS, exist_ok=True)
        subprocess.run(
            ["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=10",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=10",
             "-c:v", "libx264", "-preset", "veryfast", "-b:v", "900k", "-maxrate", "900k", "-bufsize", "900k",
             "-g", "50", "-c:a", "aac", "-b:a", "96k", "-f", "flv", path],
            check=True,
        )  # fmt: skip
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(a: argparse.Namespace) -> dict[str, Any]:
    stream = load_stream(a.file)
    workdir = tempfile.mkdtemp(prefix="srs-hls-bench-")
    port = free_port()
    conf = os.path.join(workdir, "srs.conf")
    with open(conf, "w") as f:
        f.write(
            CONF.format(
                rtmp=port, dir=workdir, fragment=a.fragment, hls_window=a.hls_window, extra=a.hls_extra
            )
        )
    server = subprocess.Popen(
        ["taskset", "-c", str(SERVER_CPU), sys.executable, "-m", "srs", "-c", conf],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.sched_setaffinity(0, {TOOL_CPU})
    loop = asyncio.get_running_loop()
    for _ in range(100):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    tc_url = f"rtmp://127.0.0.1:{port}/live"
    pubs: list[Publisher] = []
    try:
        for i in range(a.n):
            p = Publisher(stream, tc_url, f"s{i}")
            await loop.create_connection(lambda p=p: p, "127.0.0.1", port)
            pubs.append(p)
            if i % a.ramp == a.ramp - 1:
                await asyncio.sleep(1)
        await asyncio.wait_for(asyncio.gather(*(p.started for p in pubs)), 60)
        await asyncio.sleep(a.warmup)
        tree = ProcTree(server.pid)
        tool = psutil.Process()
        rss: list[float] = []
        cpu0, tool0, t0 = tree.cpu_s(), sum(tool.cpu_times()[:2]), time.monotonic()
        sent0 = sum(p.sent_bytes for p in pubs)
        while time.monotonic() - t0 < a.window:
            rss.append(tree.rss() / 2**20)
            await asyncio.sleep(1)
        dt = time.monotonic() - t0
        cpu = (tree.cpu_s() - cpu0) / dt * 100
        tool_cpu = (sum(tool.cpu_times()[:2]) - tool0) / dt * 100
        kbps = (sum(p.sent_bytes for p in pubs) - sent0) * 8 / dt / 1000 / max(1, len(pubs))
        # Streams whose newest segment was written in the last 3 fragments.
        now = time.time()
        fresh = 0
        segments = 0
        for i in range(a.n):
            d = os.path.join(workdir, "html", "live")
            m3u8 = os.path.join(d, f"s{i}.m3u8")
            if not os.path.exists(m3u8):
                continue
            with open(m3u8) as f:
                uris = [ln for ln in f.read().splitlines() if ln.endswith((".ts", ".m4s"))]
            segments += len(uris)
            if uris and now - os.path.getmtime(os.path.join(d, uris[-1])) < 3 * a.fragment:
                fresh += 1
        lost = sum(1 for p in pubs if p.lost)
        behind = sum(1 for p in pubs if p.max_backlog > 1 << 20)
        return {
            "streams": a.n,
            "publisher_kbps": round(kbps, 1),
            "server_cpu_pct": round(cpu, 1),
            "tool_cpu_pct": round(tool_cpu, 1),
            "rss_mb_first": round(rss[0], 1),
            "rss_mb_max": round(max(rss), 1),
            "rss_mb_last": round(rss[-1], 1),
            "streams_with_fresh_segments": fresh,
            "segments_in_playlists": segments,
            "publishers_lost": lost,
            "publishers_backlogged_1mb": behind,
            "window_s": round(dt, 1),
            "fragment_s": a.fragment,
            "hls_window_s": a.hls_window,
        }
    finally:
        for p in pubs:
            if p.transport is not None:
                p.transport.close()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--ramp", type=int, default=20, help="publishers started per second")
    ap.add_argument("--fragment", type=float, default=2.0)
    ap.add_argument("--hls-window", type=float, default=10.0)
    ap.add_argument("--file", default="")
    ap.add_argument(
        "--hls-extra",
        default="",
        help='more hls directives, e.g. "hls_use_fmp4 on;" or "hls_ll on; hls_use_fmp4 on;"',
    )
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    a.file = a.file or clip_1mbps()
    raise_nofile()
    result = uvloop.run(run(a))
    emit(result, a.out)


if __name__ == "__main__":
    main()
