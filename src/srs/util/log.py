"""Logging in SRS's shape: ``[time][level][pid][cid] message``.

Every connection runs with its own context id (SRS's ``cid``, 8 chars ``[0-9a-z]``, also the client
id in the API and hooks) in a :class:`contextvars.ContextVar`; asyncio copies the context into each
task, so every line a connection's code logs carries its id without passing it around.
"""

from __future__ import annotations

import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

context_id: ContextVar[str] = ContextVar("srs_cid", default="")

LOGGER_NAME = "srs"
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
        msg = record.getMessage()
        if record.exc_info and record.levelno >= logging.ERROR:
            msg += "\n" + self.formatException(record.exc_info)
        return f"[{stamp}][{level}][{self.pid}][{cid}] {msg}"


class _CidFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "cid", None):
            record.cid = context_id.get()
        return True


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
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
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
