"""Run the fan-out matrix: our server, the C++ SRS and nginx-rtmp, RTMP and HTTP-FLV, N = 1..2000.

    .venv/bin/python bench/run_matrix.py                  # everything (about 20 minutes)
    .venv/bin/python bench/run_matrix.py --only srs-rtmp --n 2000 --window 25
    .venv/bin/python bench/run_matrix.py --table          # only rebuild the table from results/*.json
    # the same cases on another checkout of our server (before/after), labelled "before-...":
    .venv/bin/python bench/run_matrix.py --srs-src ../before/src --label-prefix before-
    # the C++ SRS (built elsewhere, never committed) with the same configs and load:
    .venv/bin/python bench/run_matrix.py --cpp-srs /path/to/srs/trunk/objs/srs --only cpp-srs-rtmp

Each case gets a fresh server pinned to CPU 0 (``taskset``) and the load tool (bench/load.py) pinned
to CPU 1. Results: ``bench/results/runs/<case>-<n>-<time>.json`` (and the server's log) and
``bench/results/table.md``. Before each
case the script waits (up to ``--quiet-wait`` s) for the machine to be idle, since anything else
running skews the CPU figures; the JSON records the CPU used by other processes during the window.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
RUNS = os.path.join(RESULTS, "runs")  # one JSON (and server log) per run
PYTHON = os.path.join(REPO, ".venv", "bin", "python")
STREAM = os.path.join(RESULTS, "stream.flv")
RTMP_PORT = 19350
HTTP_PORT = 18080
NGINX_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
SERVER_CPU = "0"
TOOL_CPU = "1"

# The test stream: ~440 kbit/s H.264 (GOP 2 s, no B-frames) + 48 kbit/s AAC, 30 s, looped by the tool.
FFMPEG_STREAM = [
    "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y",
    "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
    "-t", "30",
    "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-profile:v", "main",
    "-b:v", "440k", "-maxrate", "440k", "-bufsize", "440k",
    "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-bf", "0",
    "-c:a", "aac", "-b:a", "48k", "-ar", "44100", "-ac", "2",
    "-f", "flv", STREAM,
]  # fmt: skip


@dataclass(frozen=True)
class Case:
    name: str  # file name prefix and table label
    server: str  # "srs" or "nginx"
    conf: str
    proto: str  # "rtmp" or "flv"
    counts: tuple[int, ...]


CASES = [
    Case("srs-rtmp", "srs", "srs-bench.conf", "rtmp", (1, 500, 1000, 2000)),
    Case("srs-flv", "srs", "srs-bench.conf", "flv", (1, 500, 1000, 2000)),
    Case("nginx-rtmp", "nginx", "nginx-rtmp.conf", "rtmp", (1, 500, 1000, 2000)),
    Case("srs-realtime-rtmp", "srs", "srs-bench-realtime.conf", "rtmp", (1, 500, 1000, 2000)),
    Case("srs-realtime-flv", "srs", "srs-bench-realtime.conf", "flv", (1, 500, 1000, 2000)),
    # The C++ SRS (--cpp-srs): the same config files, the same load.
    Case("cpp-srs-rtmp", "cpp", "srs-bench.conf", "rtmp", (500, 1000, 2000)),
    Case("cpp-srs-flv", "cpp", "srs-bench.conf", "flv", (500, 1000, 2000)),
    Case("cpp-srs-realtime-rtmp", "cpp", "srs-bench-realtime.conf", "rtmp", (500, 1000, 2000)),
    Case("cpp-srs-realtime-flv", "cpp", "srs-bench-realtime.conf", "flv", (500, 1000, 2000)),
]


NICE = -10  # server and tool get the CPU first when other work shares the machine (needs root)


def prepare_child() -> None:
    """Called in the child before exec: 65536 descriptors (root may raise the hard limit), priority."""
    with contextlib.suppress(OSError):
        os.nice(NICE)
    for lim in ((65536, 65536), (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, lim)
            return
        except (ValueError, OSError):
            continue


def src_state(src: str = "") -> str:
    """Which server code ran: HEAD plus a digest of every file under src/ (the tree changes often)."""
    src = os.path.abspath(src) if src else os.path.join(REPO, "src")
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=src, capture_output=True, text=True
    ).stdout.strip()
    h = hashlib.sha1()
    for path in sorted(glob.glob(os.path.join(src, "**", "*.py"), recursive=True)):
        h.update(os.path.relpath(path, src).encode())
        with open(path, "rb") as f:
            h.update(f.read())
    return f"{head or 'unknown'}+{h.hexdigest()[:10]}"


def ensure_stream() -> None:
    if not os.path.exists(STREAM):
        os.makedirs(RESULTS, exist_ok=True)
        subprocess.run(FFMPEG_STREAM, check=True)


def wait_quiet(max_wait_s: float, busy_pct: float) -> float:
    """Wait until the machine's CPU use (both cores, % of one core) drops below ``busy_pct``."""
    deadline = time.monotonic() + max_wait_s
    while True:
        used: float = psutil.cpu_percent(interval=2.0) * (psutil.cpu_count() or 1)
        if used < busy_pct or time.monotonic() >= deadline:
            return used
        print(f"  machine busy ({used:.0f}% of a core used by others), waiting...", flush=True)


def wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port}")


def start_server(case: Case, log_path: str, a: argparse.Namespace) -> subprocess.Popen[bytes]:
    conf = os.path.join(HERE, case.conf)
    env = dict(os.environ)
    if case.server == "srs":
        cmd = ["taskset", "-c", SERVER_CPU, PYTHON, "-m", "srs", "-c", conf]
        if a.srs_src:
            env["PYTHONPATH"] = os.path.abspath(a.srs_src)  # another checkout's src/ wins
    elif case.server == "cpp":
        cmd = ["taskset", "-c", SERVER_CPU, a.cpp_srs, "-c", conf]
    else:
        prefix = os.path.join(RESULTS, "nginx") + "/"
        os.makedirs(prefix, exist_ok=True)
        cmd = ["taskset", "-c", SERVER_CPU, "nginx", "-p", prefix, "-e", "stderr", "-c", conf]
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=prepare_child
    )
    log.close()
    wait_port(RTMP_PORT)
    if case.server != "nginx" and case.proto == "flv":
        wait_port(HTTP_PORT)
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    # srs: SIGTERM is a graceful stop; nginx: SIGTERM is its fast shutdown (master and worker).
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_case(case: Case, n: int, a: argparse.Namespace) -> dict[str, Any] | None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(RUNS, exist_ok=True)
    label = (a.label_prefix if case.server == "srs" else "") + case.name
    out = os.path.join(RUNS, f"{label}-{n}-{stamp}.json")
    before = wait_quiet(a.quiet_wait, a.quiet_pct)
    if case.server == "srs":
        state = src_state(a.srs_src)
    elif case.server == "cpp":
        state = f"cpp:{os.path.abspath(a.cpp_srs)}"
    else:
        state = "nginx"
    proc = start_server(case, os.path.join(RUNS, f"{label}-{n}-{stamp}.log"), a)
    try:
        time.sleep(1.0)
        cmd = [
            "taskset", "-c", TOOL_CPU, PYTHON, os.path.join(HERE, "load.py"),
            "--label", label, "--proto", case.proto, "-n", str(n),
            "--rtmp-port", str(RTMP_PORT), "--http-port", str(HTTP_PORT),
            "--server-pid", str(proc.pid), "--window", str(a.window), "--warmup", str(a.warmup),
            "--file", STREAM, "--out", out,
        ]  # fmt: skip
        done = subprocess.run(cmd, cwd=REPO, preexec_fn=prepare_child, timeout=300)
        if done.returncode != 0:
            print(f"  load tool failed ({done.returncode})", flush=True)
            return None
    finally:
        stop_server(proc)
    with open(out, encoding="utf-8") as f:
        r: dict[str, Any] = json.load(f)
    r["machine_busy_before_pct"] = round(before, 1)
    r["src_state"] = state
    with open(out, "w", encoding="utf-8") as f:
        json.dump(r, f, indent=1)
    return r


def fmt(v: Any, unit: str = "") -> str:
    return "-" if v is None else f"{v}{unit}"


def table() -> str:
    """One row per case and N: the run least disturbed by other processes (lowest other CPU).

    Which run is shown depends only on the machine's background load, never on the result; the
    "runs" column gives how many runs there were and the range of server CPU over all of them.
    """
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for path in glob.glob(os.path.join(RUNS, "*.json")):
        with open(path, encoding="utf-8") as f:
            r = json.load(f)
        if "label" in r and "kept_up" in r:
            groups.setdefault((r["label"], r["n"]), []).append(r)
    order = {c.name: i for i, c in enumerate(CASES)}

    def sort_key(k: tuple[str, int]) -> tuple[int, str, int]:
        base = next((c.name for c in CASES if k[0].endswith(c.name)), k[0])
        return (order.get(base, 99), k[0], k[1])

    lines = [
        "| server / protocol | N | kept up | server CPU (% of 1 core) | server RSS max (MB) "
        "| A/V latency p50 / p95 / p99 (ms) | TTFF median (ms) | publisher kbit/s | player bytes p5 / median "
        "| load tool CPU % | other CPU % | runs: server CPU range (kept-up range) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in sorted(groups, key=sort_key):
        runs = groups[key]
        r = min(runs, key=lambda x: x["other_cpu_pct"])
        cpus = [x["server_cpu_pct"] for x in runs if x["server_cpu_pct"] is not None]
        kept = [x["kept_up"] for x in runs]
        span = f"{len(runs)}: CPU {min(cpus)}-{max(cpus)}" if cpus else str(len(runs))
        span += f", kept up {min(kept)}-{max(kept)}" if min(kept) != max(kept) else ""
        sat = " (saturated!)" if r.get("tool_saturated") else ""
        if r.get("contended"):
            sat += " (busy machine)"
        lines.append(
            f"| {r['label']} | {r['n']} | {r['kept_up']}/{r['n']} | {fmt(r['server_cpu_pct'])} "
            f"| {fmt(r['server_rss_mb_max'])} | {fmt(r['latency_ms_median'])} / {fmt(r['latency_ms_p95'])} "
            f"/ {fmt(r.get('latency_ms_p99'))} "
            f"| {fmt(r['ttff_ms_median'])} | {fmt(r['publisher_kbps'])} "
            f"| {fmt(r['ratio_p5'])} / {fmt(r['ratio_median'])} | {fmt(r['tool_cpu_pct'])}{sat} "
            f"| {max(0.0, r['other_cpu_pct'])} | {span} |"
        )
    states = sorted({x.get("src_state", "?") for runs in groups.values() for x in runs})
    lines.append("")
    lines.append(f"Server code (HEAD+digest of src/): {', '.join(states)}")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description="fan-out benchmark matrix")
    ap.add_argument("--only", action="append", default=[], help="case name(s), e.g. srs-rtmp, nginx-rtmp")
    ap.add_argument("--n", type=int, action="append", default=[], help="player count(s) to run")
    ap.add_argument("--window", type=float, default=25.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--quiet-wait", type=float, default=300.0, help="max seconds to wait for an idle machine")
    ap.add_argument("--quiet-pct", type=float, default=25.0, help="idle = under this %% of one core in use")
    ap.add_argument("--repeat", type=int, default=1, help="run each case this many times")
    ap.add_argument("--table", action="store_true", help="only rebuild results/table.md")
    ap.add_argument("--srs-src", default="", help="run our server from this src/ dir (PYTHONPATH)")
    ap.add_argument("--label-prefix", default="", help="prefix for our server's labels, e.g. before-")
    ap.add_argument("--cpp-srs", default="", help="the C++ SRS binary: enables the cpp-srs-* cases")
    a = ap.parse_args()
    if not a.table:
        ensure_stream()
        if any(c.server == "nginx" for c in CASES) and not os.path.exists(NGINX_MODULE):
            print(f"missing {NGINX_MODULE}: apt-get install -y libnginx-mod-rtmp", file=sys.stderr)
        for case in CASES:
            if a.only and case.name not in a.only:
                continue
            if case.server == "nginx" and not os.path.exists(NGINX_MODULE):
                continue
            if case.server == "cpp" and not a.cpp_srs:
                continue
            for n in case.counts:
                if a.n and n not in a.n:
                    continue
                for i in range(a.repeat):
                    print(f"== {case.name} N={n} (run {i + 1}/{a.repeat})", flush=True)
                    run_case(case, n, a)
    md = table()
    with open(os.path.join(RESULTS, "table.md"), "w", encoding="utf-8") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
