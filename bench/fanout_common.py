"""What the fan-out benches share (whep_load.py, rtsp_load.py, srt_load.py): a spawned server pinned
to CPU 0 (optionally under cProfile, rtc_bridge_load.py's wrapper), the real-time RTMP publisher of
bench/players.py with its wall-clock origin, and the publisher's own slip against its schedule."""

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
from urllib.parse import urlparse

from players import Publisher, load_stream, now

SERVER_CPU, TOOL_CPU = 0, 1
VIDEO_MSG = 9  # RTMP message type of video


class SpawnedServer:
    """``python -m srs`` with ``conf`` (a str.format template: ``{dir}`` is its work dir) on CPU 0;
    this process (and the player processes it starts) moves to CPU 1."""

    def __init__(self, conf: str, cprofile: str = "", **ports: int) -> None:
        self.dir = tempfile.mkdtemp(prefix="srs-fanout-bench-")
        path = os.path.join(self.dir, "srs.conf")
        with open(path, "w") as f:
            f.write(conf.format(dir=self.dir, **ports))
        py = [sys.executable, "-m", "srs", "-c", path]
        if cprofile:
            from rtc_bridge_load import PROFILE_WRAPPER  # the one cProfile wrapper of the benches

            py = [sys.executable, "-c", PROFILE_WRAPPER, os.path.abspath(cprofile), path]
        pin = ["taskset", "-c", str(SERVER_CPU)] if shutil.which("taskset") else []
        self.proc = subprocess.Popen(
            [*pin, *py], cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {TOOL_CPU})
        self.pid = self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()  # SIGTERM: the cProfile wrapper dumps its stats on the way out
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


async def start_publisher(rtmp: str, app: str, stream: str, file: str) -> tuple[Publisher, float]:
    """Publish ``file`` looped in real time to ``rtmp/app/stream``; returns the publisher and the
    wall time (``time.time()``) of its media timestamp 0 (frame T ms is due at ``t0_wall + T/1000``).
    Waits for the server's port (a spawned server needs a moment), then 1 s (a GOP in the cache)."""
    r = urlparse(rtmp)
    host, port = r.hostname or "127.0.0.1", r.port or 1935
    for _ in range(150):
        try:
            _, w = await asyncio.open_connection(host, port)
            w.close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    pub = Publisher(load_stream(file), f"rtmp://{host}:{port}/{app}", stream)
    await asyncio.get_running_loop().create_connection(lambda: pub, host, port)
    await asyncio.wait_for(pub.started, 20)
    t0_wall = time.time() - (now() - pub._t0)
    await asyncio.sleep(1.0)
    return pub, t0_wall


def publisher_summary(pub: Publisher) -> dict[str, Any]:
    """How late the publisher itself was against its schedule (included in every latency)."""
    from whep_load import percentile

    slip = [(t - (pub._t0 + ts / 1000)) * 1000 for (kind, ts), t in pub.sent_ts.items() if kind == VIDEO_MSG]
    p95 = percentile(slip, 95)
    return {
        "publisher_slip_ms_p95": None if p95 is None else round(p95, 1),
        "publisher_slip_ms_max": round(max(slip), 1) if slip else None,
        "publisher_lost": pub.lost,
        "publisher_kbps": round(pub.stream.bitrate_kbps, 1),
    }


def fanout_args(
    doc: str | None, stream: str, spawn_help: str, *, processes: int = 1
) -> argparse.ArgumentParser:
    """The options every fan-out bench takes (players, publisher, spawned server, window, output,
    and the hidden ones of a ``-P`` child); each bench adds its own."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100, help="players")
    ap.add_argument("-P", type=int, default=processes, help="processes the players are spread over")
    ap.add_argument("--rtmp", default="rtmp://127.0.0.1:1935")
    ap.add_argument("--app", default="live")
    ap.add_argument("--stream", default=stream)
    ap.add_argument("--file", default="", help="FLV to publish (default: the cached 600 kbit/s clip)")
    ap.add_argument("--spawn", action="store_true", help=spawn_help)
    ap.add_argument("--server-pid", type=int, default=0)
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--out", default="")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--t0-wall", type=float, default=0, help=argparse.SUPPRESS)
    return ap
