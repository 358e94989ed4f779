"""Command line: SRS's options, pid file, daemon, signals.

    srs -c conf/srs.conf      start with a config file (SRS_CONFIG_FILE overrides -c)
    srs -t -c conf/srs.conf   test the config and exit (0 ok, 1 error)
    srs -e                    config from SRS_* environment variables only (SRS_ENV_ONLY too)
    srs -v | -V               print the version
    srs -g | -G               print the signature
    srs -h | -?               help

Signals: SIGHUP reload, SIGUSR1 reopen the log file, SIGINT/SIGTERM graceful stop (publishers and
players are closed cleanly), SIGQUIT fast stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence

from srs import SIGNATURE, URL, VERSION
from srs.app import App, setup_logging
from srs.config import Config, ConfigError, check_not_full, load_config
from srs.server.context import ServerIdentity, new_id
from srs.util import log as srslog

log = logging.getLogger("srs")

HELP = f"""{SIGNATURE} {URL}
Usage: srs <-h?vVgGe>|<[-t] -c filename>
Options:
   -?, -h, --help      : Show this help and exit 0.
   -v, -V, --version   : Show version and exit 0.
   -g, -G              : Show server signature and exit 0.
   -e                  : Use environment variable only, ignore config file.
   -t                  : Test configuration file, exit with error code (0 for success).
   -c filename         : Use configuration file for SRS.
For srs-dev:
   srs -c conf/srs.conf
   srs -t -c conf/srs.conf
   SRS_ENV_ONLY=on srs
"""


class Options:
    def __init__(self) -> None:
        self.config: str | None = None
        self.test = False
        self.env_only = False
        self.show: str | None = None


def parse_args(argv: Sequence[str]) -> Options:
    o = Options()
    if not argv:
        o.show = "help"
        return o
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "-?", "--help"):
            o.show = "help"
        elif a in ("-v", "-V", "--version"):
            o.show = "version"
        elif a in ("-g", "-G"):
            o.show = "signature"
        elif a == "-e":
            o.env_only = True
        elif a == "-t":
            o.test = True
        elif a == "-c":
            i += 1
            if i >= len(argv):
                raise SystemExit("srs: option -c requires a file name")
            o.config = argv[i]
        elif a.startswith("-c") and len(a) > 2:
            o.config = a[2:]
        else:
            raise SystemExit(f"srs: invalid option: {a}\n{HELP}")
        i += 1
    return o


def _in_docker(cfg: Config) -> bool:
    return cfg.in_docker or os.path.exists("/.dockerenv")


def stay_in_foreground(cfg: Config, env: Mapping[str, str]) -> bool:
    """``daemon on`` is ignored under a supervisor: systemd, or docker (``disable_daemon_for_docker``).

    ``SRS_DAEMON=off`` reaches here already applied to ``cfg.daemon`` by the env overrides.
    """
    if not cfg.daemon:
        return True
    if env.get("INVOCATION_ID") or env.get("NOTIFY_SOCKET"):
        return True  # systemd runs us (Type=simple/notify): forking would look like an exit
    return _in_docker(cfg) and cfg.disable_daemon_for_docker


def acquire_pid_file(path: str) -> int | None:
    """Write our pid and hold a lock so a second server with the same pid file refuses to start."""
    if not path:
        return None
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ConfigError(f"pid file {path} is locked: another srs is running") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def server_id_for(cfg: Config) -> str:
    """SRS compat: configured id, else kept in ``<pid path with .id>`` so it survives restarts."""
    if cfg.server_id:
        return cfg.server_id
    pid = cfg.pid or "./objs/srs.pid"
    path = pid[:-4] + ".id" if pid.endswith(".pid") else pid + ".id"
    with contextlib.suppress(OSError):
        with open(path, encoding="utf-8") as f:
            sid = f.read().strip()
        if sid:
            return sid
    sid = f"vid-{new_id(7)}"
    with contextlib.suppress(OSError):
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(sid)
    return sid


def daemonize() -> None:
    """Classic double fork; the parent returns to the shell at once."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)


def install_loop_policy() -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass


async def serve(app: App) -> int:
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def stop(graceful: bool) -> None:
        if not stopping:
            stopping.append(loop.create_task(app.stop(graceful=graceful)))

    reloads: set[asyncio.Task[object]] = set()

    def reload() -> None:
        task: asyncio.Task[object] = loop.create_task(app.reload())
        reloads.add(task)  # keep a reference until it is done
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGINT, stop, True)
    loop.add_signal_handler(signal.SIGTERM, stop, True)
    loop.add_signal_handler(signal.SIGQUIT, stop, False)
    loop.add_signal_handler(signal.SIGHUP, reload)
    loop.add_signal_handler(signal.SIGUSR1, srslog.reopen)
    await app.start()
    await app.stopped.wait()
    return 0


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ if env is None else env)
    opts = parse_args(args)
    if "SRS_ENV_ONLY" in environ:
        opts.env_only = True
    if environ.get("SRS_CONFIG_FILE"):
        opts.config = environ["SRS_CONFIG_FILE"]
    if opts.show == "help" and not (opts.env_only or opts.config):
        print(HELP)
        return 0
    if opts.show == "version":
        print(VERSION)
        return 0
    if opts.show == "signature":
        print(SIGNATURE)
        return 0
    if opts.show == "help":
        print(HELP)
        return 0
    if not opts.env_only and not opts.config:
        print("srs: no config file, use -c <file> (or -e for environment-only mode)", file=sys.stderr)
        return 1
    try:
        cfg = load_config(None if opts.env_only else opts.config, env=environ, env_only=opts.env_only)
    except ConfigError as e:
        print(f"srs: config file {opts.config or '(env)'} error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"srs: cannot read config file {opts.config}: {e}", file=sys.stderr)
        return 1
    if opts.test:
        print(f"srs: the config file {opts.config or '(env)'} syntax is ok")
        for line in cfg.warnings:
            print(f"srs: warning: {line}")
        for line in cfg.unsupported:
            print(f"srs: {line}")
        try:
            check_not_full(cfg)
        except ConfigError as e:
            # SRS's full.conf lists every directive: it loads and checks, but is never run.
            print(f"srs: note: {e} - a reference file, srs refuses to run it")
        print(f"srs: config file {opts.config or '(env)'} test is successful")
        return 0
    try:
        check_not_full(cfg)
    except ConfigError as e:
        print(f"srs: config file {opts.config} error: {e}", file=sys.stderr)
        return 1
    if cfg.work_dir and cfg.work_dir not in ("./", "."):
        os.chdir(cfg.work_dir)
    if not opts.env_only and not stay_in_foreground(cfg, environ):
        daemonize()
    setup_logging(cfg, force_console=opts.env_only)
    try:
        pid_fd = acquire_pid_file(cfg.pid)
    except ConfigError as e:
        log.error("%s", e)
        return 1
    identity = ServerIdentity(server_id=server_id_for(cfg), service_id=new_id(8), pid=os.getpid())
    app = App(cfg, config_path=opts.config, env=environ, env_only=opts.env_only, identity=identity)
    install_loop_policy()
    try:
        return asyncio.run(serve(app))
    except OSError as e:
        log.error("cannot start: %s", e)
        return 1
    finally:
        if pid_fd is not None:
            with contextlib.suppress(OSError):
                os.close(pid_fd)
            with contextlib.suppress(OSError):
                os.unlink(cfg.pid)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
