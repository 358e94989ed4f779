"""SRT ingest cost: the server's CPU per 2 Mbit/s SRT publisher (issue 11 target: 100 on one core).

    .venv/bin/python bench/srt_ingest.py -n 1 -n 10 -n 30 [--players] [--window 20] [--warmup 5]

Every ``-n`` spawns a fresh server (``python -m srs``, pinned to CPU 0 with taskset when there is
one) with ``srt_server`` on a free UDP port and ``srt_to_rtmp on`` (no HLS/DVR), then N ffmpeg
publishers (``-re -stream_loop -1 -c copy -f mpegts srt://...m=publish``) of a 2 Mbit/s H.264 720p +
AAC MPEG-TS made once with libx264 (cached in the temp dir). ``--players`` adds one
``srt-live-transmit`` SRT player per stream (bytes to /dev/null). After ``--warmup`` s the server's
CPU seconds (psutil user+sys, libsrt's threads included) over ``--window`` s, as % of one core and per
publisher. Summary: JSON, one object per N.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
MEDIA = Path(tempfile.gettempdir()) / "srs-bench-srt-2m.ts"
CONF = """listen {rtmp};
daemon off;
srs_log_tank console;
srs_log_level trace;
max_connections 3000;
http_api {{ enabled on; listen {api}; }}
srt_server {{ enabled on; listen 0; }}
vhost __defaultVhost__ {{ srt {{ enabled on; srt_to_rtmp on; }} }}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def recv_bytes(api: int) -> dict[str, int]:
    """Bytes received so far per stream (the HTTP API's ``recv_bytes``): is every publisher keeping up."""
    with urllib.request.urlopen(f"http://127.0.0.1:{api}/api/v1/streams?count=1000", timeout=10) as r:
        return {s["name"]: int(s["recv_bytes"]) for s in json.load(r)["streams"]}


def make_media() -> Path:
    if not MEDIA.exists():
        part = MEDIA.with_suffix(f".{os.getpid()}.part.ts")
        subprocess.run(
            [
                *(
                    "ffmpeg",
                    "-nostdin",
                    "-v",
                    "error",
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=size=1280x720:rate=30",
                ),
                *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "30", "-c:v", "libx264"),
                *(
                    "-preset",
                    "ultrafast",
                    "-b:v",
                    "1900k",
                    "-maxrate",
                    "2000k",
                    "-bufsize",
                    "2000k",
                    "-g",
                    "60",
                ),
                *("-c:a", "aac", "-b:a", "96k", "-f", "mpegts", str(part)),
            ],
            check=True,
        )
        part.rename(MEDIA)
    return MEDIA


def run(n: int, players: bool, warmup: float, window: float) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="srs-srt-bench-"))
    api = free_port()
    (work / "srs.conf").write_text(CONF.format(rtmp=free_port(), api=api))
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
    tools = ["taskset", "-c", "1"] if pin else []  # the clients off the server's core
    log = (work / "srs.log").open("w")
    server = subprocess.Popen(
        [*pin, sys.executable, "-m", "srs", "-c", "srs.conf"], cwd=work, stdout=log, stderr=subprocess.STDOUT
    )
    clients: list[subprocess.Popen[bytes]] = []
    try:
        deadline = time.monotonic() + 15
        port = 0
        while not port and time.monotonic() < deadline:
            m = re.search(r"SRT listen=udp://[^:]+:(\d+)", (work / "srs.log").read_text())
            port = int(m.group(1)) if m else 0
            time.sleep(0.1)
        assert port, (work / "srs.log").read_text()
        for i in range(n):
            url = f"srt://127.0.0.1:{port}?streamid=#!::r=live/b{i},m=publish"
            clients.append(
                subprocess.Popen(
                    [
                        *tools,
                        *("ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", str(MEDIA)),
                        *("-c", "copy", "-f", "mpegts", url),
                    ],
                    stdout=subprocess.DEVNULL,
                )
            )
            if players:
                clients.append(
                    subprocess.Popen(
                        [
                            *tools,
                            "srt-live-transmit",
                            "-q",
                            f"srt://127.0.0.1:{port}?streamid=live/b{i}",
                            "file://con",
                        ],
                        stdout=subprocess.DEVNULL,
                    )
                )
        time.sleep(warmup)
        proc = psutil.Process(server.pid)
        c0, b0 = proc.cpu_times(), recv_bytes(api)
        t0 = time.monotonic()
        time.sleep(window)
        c1, b1 = proc.cpu_times(), recv_bytes(api)
        elapsed = time.monotonic() - t0
        kbps = sorted((b1.get(k, 0) - b0.get(k, 0)) * 8 / 1000 / elapsed for k in b0)
        cpu = (c1.user + c1.system - c0.user - c0.system) / elapsed * 100
        text = (work / "srs.log").read_text()
        return {
            "publishers": n,
            "players": n if players else 0,
            "published": text.count("SRT publish ip="),
            "ingest_kbps_per_stream_min": round(kbps[0], 1) if kbps else None,
            "ingest_kbps_per_stream_p50": round(kbps[len(kbps) // 2], 1) if kbps else None,
            "cpu_pct": round(cpu, 2),
            "cpu_pct_per_publisher": round(cpu / n, 3),
            "threads": proc.num_threads(),
            "rss_mb": round(proc.memory_info().rss / 2**20, 1),
        }
    finally:
        for c in clients:
            c.kill()
        for c in clients:
            c.wait()
        server.terminate()
        server.wait(15)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, action="append", help="publishers (repeatable)")
    ap.add_argument("--players", action="store_true", help="one SRT player per stream")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--window", type=float, default=20.0)
    a = ap.parse_args()
    make_media()
    for n in a.n or [10]:
        print(json.dumps(run(n, a.players, a.warmup, a.window)), flush=True)


if __name__ == "__main__":
    main()
