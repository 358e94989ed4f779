"""Logging in SRS's shape: ``[time][level][pid][cid] message``.

Every connection runs with its own context id (SRS's ``cid``, 8 chars ``[0-9a-z]``, also the client
id in the API and hooks) in a :class:`contextvars.ContextVar`; asyncio copies the context into each
task, so every line a connection's code logs carries its id without passing it around.

Two defences against clients writing our log (docs/SECURITY.md):

* every message is escaped: control characters (CR, LF, NUL, ESC, ...) that a client put in a
  stream name, a query string, a tcUrl or a header become ``\r``, ``\n``, ``\x00``..., so one
  record is always one line and nobody can forge a line;
* :class:`StormFilter` summarises floods: the same warning (same logger and format string) is
  written once per second; the repeats are counted and written as one summary line with the count
  and the last one's text.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

context_id: ContextVar[str] = ContextVar("srs_cid", default="")

LOGGER_NAME = "srs"
FOREIGN_LOGGERS = ("aiohttp.server", "aiohttp.access", "asyncio")
log = logging.getLogger(LOGGER_NAME)

# srs_log_level (verbose/info/trace/warn/error) and srs_log_level_v2 (trace/debug/info/warn/error)
_LEVELS_V1 = {
    "verbose": logging.DEBUG - 5,
    "info": logging.DEBUG,
    "trace": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
_LEVELS_V2 = {
    "trace": logging.DEBUG - 5,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
_NAMES = {
    logging.DEBUG - 5: "Verb",
    logging.DEBUG: "Debug",
    logging.INFO: "Trace",
    logging.WARNING: "Warn",
    logging.ERROR: "Error",
    logging.CRITICAL: "Error",
}


def level_from_config(level: str, level_v2: str = "") -> int:
    if level_v2:
        return _LEVELS_V2.get(level_v2.lower(), logging.INFO)
    return _LEVELS_V1.get(level.lower(), logging.INFO)


# Control characters (C0, DEL, and the C1 range some terminals obey) as visible escapes.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})


def escape(text: str) -> str:
    """``text`` with every control character written as an escape: it stays on one line."""
    return text.translate(_ESCAPES)


class SrsFormatter(logging.Formatter):
    def __init__(self, utc: bool = False) -> None:
        super().__init__()
        self.utc = utc
        self.pid = os.getpid()

    def format(self, record: logging.LogRecord) -> str:
        tz = UTC if self.utc else None
        t = datetime.fromtimestamp(record.created, tz)
        stamp = t.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(record.msecs):03d}"
        cid = getattr(record, "cid", None) or context_id.get()
        level = _NAMES.get(record.levelno, record.levelname)
        msg = escape(record.getMessage())
        if record.exc_info and record.levelno >= logging.ERROR:
            msg += "\n" + self.formatException(record.exc_info)
        return f"[{stamp}][{level}][{self.pid}][{cid}] {msg}"


class _CidFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "cid", None):
            record.cid = context_id.get()
        return True


class StormFilter(logging.Filter):
    """Writes a warning (or worse) at most once per ``window_s`` per (logger, format string).

    Repeats inside the window are counted; when the window is over (at the next such record or at
    :meth:`flush`, which the server calls a few times a second) one summary line says how many were
    left out and what the last one said. Lower levels pass untouched.
    """

    def __init__(
        self,
        emit: Callable[[logging.LogRecord], object],
        *,
        window_s: float = 1.0,
        level: int = logging.WARNING,
    ) -> None:
        super().__init__()
        self._emit = emit
        self.window_s = window_s
        self.level = level
        self._windows: dict[tuple[str, object], _Window] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level or getattr(record, "srs_summary", False):
            return True
        key = (record.name, record.msg)
        now = record.created
        w = self._windows.get(key)
        if w is not None and now - w.start < self.window_s:
            w.left_out += 1
            w.last = record
            return False
        if w is not None:
            self._summarise(w)
        self._windows[key] = _Window(now)
        return True

    def flush(self, now: float) -> None:
        """Write the summaries of windows over at ``now`` (``time.time()``); forget them."""
        for key, w in list(self._windows.items()):
            if now - w.start >= self.window_s:
                del self._windows[key]
                self._summarise(w)

    def _summarise(self, w: _Window) -> None:
        last = w.last
        if not w.left_out or last is None:
            return
        rec = logging.makeLogRecord(last.__dict__)
        rec.msg = f"{w.left_out} more like this in the last {self.window_s:g}s, the last: %s"
        rec.args = (last.getMessage(),)
        rec.exc_info = rec.exc_text = None
        rec.srs_summary = True
        self._emit(rec)


class _Window:
    """One (logger, format string)'s current second: when it started, what it left out."""

    __slots__ = ("last", "left_out", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.left_out = 0
        self.last: logging.LogRecord | None = None


_storm: StormFilter | None = None


def flush_summaries(now: float) -> None:
    """Write pending flood summaries (the server's tick calls this with ``time.time()``)."""
    if _storm is not None:
        _storm.flush(now)


def setup(
    *, tank: str = "console", file: str = "", level: int = logging.INFO, utc: bool = False
) -> logging.Handler:
    """(Re)configure the ``srs`` logger; returns the installed handler."""
    root = logging.getLogger(LOGGER_NAME)
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    handler: logging.Handler
    if tank == "file" and file:
        d = os.path.dirname(file)
        if d:
            os.makedirs(d, exist_ok=True)
        handler = logging.FileHandler(file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(SrsFormatter(utc=utc))
    handler.addFilter(_CidFilter())
    global _storm
    _storm = StormFilter(handler.handle)
    handler.addFilter(_storm)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    # What aiohttp and asyncio say about clients (bad requests, accept() failing for lack of file
    # descriptors) goes to the same log, escaped and summarised, not to a stderr nobody reads.
    for name in FOREIGN_LOGGERS:
        other = logging.getLogger(name)
        for h in list(other.handlers):
            other.removeHandler(h)
        other.addHandler(handler)
        other.propagate = False
    return handler


def reopen() -> None:
    """SIGUSR1: reopen the log file (after logrotate moved it)."""
    for h in logging.getLogger(LOGGER_NAME).handlers:
        if isinstance(h, logging.FileHandler):
            h.acquire()
            try:
                h.close()
                h.stream = h._open()
            finally:
                h.release()
