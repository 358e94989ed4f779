"""The ``srs`` command: options, config test, env-only mode, pid file, signals, logs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srs import SIGNATURE, VERSION
from support.net import free_ports, wait_port
from support.server import Ports, SrsProcess, render_conf

SRS = [sys.executable, "-m", "srs"]


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("SRS_")}
    e.update(env or {})
    return subprocess.run(
        [*SRS, *args], capture_output=True, text=True, cwd=cwd, env=e, timeout=30, check=False
    )


def test_version_signature_help() -> None:
    assert run("-v").stdout.strip() == VERSION
    assert run("-V").stdout.strip() == VERSION
    assert run("-g").stdout.strip() == SIGNATURE
    out = run("-h").stdout
    assert "-c filename" in out and "-t" in out and "-e" in out
    assert "Usage" in run().stdout  # no args: help
    bad = run("-x")
    assert bad.returncode != 0 and "invalid option" in (bad.stderr + bad.stdout)


def test_no_config_file_is_an_error() -> None:
    r = run("-t")
    assert r.returncode == 1 and "no config file" in r.stderr


def test_config_test_ok_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.conf"
    good.write_text("listen 1935;\nvhost __defaultVhost__ {}\n")
    r = run("-t", "-c", str(good))
    assert r.returncode == 0 and "test is successful" in r.stdout
    bad = tmp_path / "bad.conf"
    bad.write_text("listen 1935;\nvhost v {\n    gop_cache on\n}\n")  # missing ';' on line 3
    r = run("-t", "-c", str(bad))
    assert r.returncode == 1
    assert re.search(r"bad\.conf:\d+", r.stderr), r.stderr
    unknown = tmp_path / "unknown.conf"
    unknown.write_text("listen 1935;\nno_such_directive on;\n")
    r = run("-t", "-c", str(unknown))
    assert r.returncode == 1 and "no_such_directive" in r.stderr and "unknown.conf:2" in r.stderr
    missing = run("-t", "-c", str(tmp_path / "nope.conf"))
    assert missing.returncode == 1


def test_unsupported_directives_are_reported_not_misread(tmp_path: Path) -> None:
    f = tmp_path / "hds.conf"
    f.write_text("listen 1935;\nvhost __defaultVhost__ {\n    hds { enabled on; }\n}\n")
    r = run("-t", "-c", str(f))
    assert r.returncode == 0
    assert "not supported yet" in r.stdout and "hds" in r.stdout


def test_full_conf_loads_but_is_never_run(tmp_path: Path) -> None:
    f = tmp_path / "full.conf"
    f.write_text("listen 1935;\nis_full on;\nvhost __defaultVhost__ {}\n")
    r = run("-t", "-c", str(f))
    assert r.returncode == 0 and "never use full.conf" in r.stdout
    r = run("-c", str(f))
    assert r.returncode == 1 and "full.conf" in r.stderr


def test_env_only_mode(tmp_path: Path) -> None:
    rtmp, http = free_ports(2)
    env = dict(os.environ)
    env.update(
        SRS_LISTEN=str(rtmp),
        SRS_HTTP_SERVER_ENABLED="on",
        SRS_HTTP_SERVER_LISTEN=str(http),
        SRS_VHOST_HTTP_REMUX_ENABLED="on",
        SRS_PID=str(tmp_path / "srs.pid"),
    )
    p = subprocess.Popen(
        [*SRS, "-e"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_port(rtmp)
        wait_port(http)
    finally:
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=15)
    assert p.returncode == 0
    assert b"started" in out  # env-only forces console logging


def test_pid_file_lock_signals_and_log_format(tmp_path: Path) -> None:
    ports = Ports()
    srv = SrsProcess(tmp_path / "a", render_conf(ports), ports).start()
    try:
        pid_file = tmp_path / "a" / "objs" / "srs.pid"
        assert int(pid_file.read_text()) == srv.proc.pid  # type: ignore[union-attr]
        assert (tmp_path / "a" / "objs" / "srs.id").read_text().startswith("vid-")
        # a second server with the same pid file refuses to start
        ports2 = Ports()
        second = subprocess.run(
            [*SRS, "-c", str(srv.conf_path)], cwd=tmp_path / "a", capture_output=True, text=True, timeout=20
        )
        assert second.returncode == 1 and "another srs is running" in (second.stdout + second.stderr)
        del ports2
        # SIGHUP reloads
        srv.send(signal.SIGHUP)
        srv.wait_log("reload ok")
        # log lines: [time][level][pid][cid] message
        line = next(ln for ln in srv.log().splitlines() if "started" in ln)
        assert re.match(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]\[Trace\]\[\d+\]\[[0-9a-z]*\] ", line), (
            line
        )
    finally:
        code = srv.stop(signal.SIGTERM)
    assert code == 0
    assert "stopped" in srv.log()
    assert not (tmp_path / "a" / "objs" / "srs.pid").exists()


def test_sigquit_fast_stop(tmp_path: Path) -> None:
    ports = Ports()
    srv = SrsProcess(tmp_path, render_conf(ports), ports).start()
    t = time.monotonic()
    assert srv.stop(signal.SIGQUIT) == 0
    assert time.monotonic() - t < 5
    assert "fast" in srv.log()


def test_log_to_file(tmp_path: Path) -> None:
    ports = Ports()
    conf = render_conf(ports).replace(
        "srs_log_tank        console;", "srs_log_tank file;\nsrs_log_file ./objs/x.log;"
    )
    srv = SrsProcess(tmp_path, conf, ports).start()
    try:
        log_file = tmp_path / "objs" / "x.log"
        for _ in range(50):
            if log_file.exists() and "started" in log_file.read_text():
                break
            time.sleep(0.1)
        assert "started" in log_file.read_text()
        log_file.rename(tmp_path / "objs" / "x.log.1")  # logrotate, then SIGUSR1 reopens
        srv.send(signal.SIGUSR1)
        time.sleep(0.3)
        srv.send(signal.SIGHUP)
        for _ in range(50):
            if log_file.exists() and "reload" in log_file.read_text():
                break
            time.sleep(0.1)
        assert "reload" in log_file.read_text()
    finally:
        srv.stop()


@pytest.mark.parametrize("daemon_env", ["off"])
def test_daemon_on_runs_in_foreground_when_told(tmp_path: Path, daemon_env: str) -> None:
    ports = Ports()
    conf = render_conf(ports).replace("daemon              off;", "daemon on;")
    srv = SrsProcess(tmp_path, conf, ports, env={"SRS_DAEMON": daemon_env}).start()
    try:
        assert srv.proc is not None and srv.proc.poll() is None  # still our child: not daemonized
    finally:
        assert srv.stop() == 0


def test_daemon_on_forks_to_background(tmp_path: Path) -> None:
    ports = Ports()
    conf = render_conf(ports).replace(
        "daemon              off;", "daemon on;\ndisable_daemon_for_docker off;"
    )
    conf_path = tmp_path / "d.conf"
    conf_path.write_text(conf)
    e = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SRS_") and k not in ("INVOCATION_ID", "NOTIFY_SOCKET")
    }
    r = subprocess.run([*SRS, "-c", str(conf_path)], cwd=tmp_path, env=e, timeout=20, capture_output=True)
    assert r.returncode == 0  # the foreground process returns at once
    wait_port(ports.rtmp)
    pid_file = tmp_path / "objs" / "srs.pid"
    for _ in range(50):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.1)
    pid = int(pid_file.read_text())
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("daemon did not stop on SIGTERM")


def test_every_line_of_a_connection_carries_its_id(tmp_path: Path) -> None:
    """Even lines logged on its behalf by the shutdown path."""
    import asyncio

    from support.rtmp_client import RtmpClient

    ports = Ports()
    srv = SrsProcess(tmp_path, render_conf(ports), ports).start()

    async def publish_and_wait() -> None:
        c = await RtmpClient.open(ports.rtmp)
        await c.publish("cid")
        srv.send(signal.SIGTERM)
        await asyncio.wait_for(c.closed.wait(), 10)

    asyncio.run(publish_and_wait())
    assert srv.stop() == 0
    lines = [ln for ln in srv.log().splitlines() if "url=/live/cid" in ln]
    assert any("unpublish" in ln and "server stopping" in ln for ln in lines), lines
    cids = {re.match(r"^\[[^]]+\]\[\w+\]\[\d+\]\[([0-9a-z]*)\]", ln).group(1) for ln in lines}  # type: ignore[union-attr]
    assert len(cids) == 1 and "" not in cids, lines
