"""A small ctypes binding of the reference SRT library (libsrt 1.5, Debian ``libsrt1.5-openssl``).

Only what the SRT server needs: sockets, the options of ``srt_server``, listen (with the listen
callback that sees the streamid before the handshake is answered), accept, message send/receive,
close and libsrt's epoll. Every call releases the GIL (ctypes), so the epoll thread of
:mod:`srs.server.srt.server` waits in ``srt_epoll_uwait`` without holding the interpreter.

The option numbers are ``SRT_SOCKOPT`` of ``srt/srt.h`` (1.5). :func:`load` returns ``None`` when no
libsrt can be loaded (the server then runs without SRT).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("srs")

# SRT_SOCKOPT (srt.h, libsrt 1.5)
SRTO_MSS = 0
SRTO_SNDSYN = 1
SRTO_RCVSYN = 2
SRTO_SNDBUF = 5
SRTO_RCVBUF = 6
SRTO_MAXBW = 16
SRTO_STATE = 17
SRTO_SNDDATA = 19
SRTO_TSBPDMODE = 22
SRTO_LATENCY = 23
SRTO_PASSPHRASE = 26
SRTO_PBKEYLEN = 27
SRTO_TLPKTDROP = 31
SRTO_CONNTIMEO = 36
SRTO_RCVLATENCY = 43
SRTO_PEERLATENCY = 44
SRTO_STREAMID = 46
SRTO_PAYLOADSIZE = 49
SRTO_PEERIDLETIMEO = 55

# SRT_EPOLL_OPT
SRT_EPOLL_IN = 0x1
SRT_EPOLL_OUT = 0x4
SRT_EPOLL_ERR = 0x8
SRT_EPOLL_ENABLE_EMPTY = 1

# SRT_ERRNO (MJ_AGAIN)
SRT_EASYNCSND = 6001
SRT_EASYNCRCV = 6002

# SRT_REJECT_REASON: the extended codes the listen callback may answer (SRT_REJX_*)
SRT_REJX_BAD_REQUEST = 1400
SRT_REJX_FORBIDDEN = 1403
SRT_REJX_NOTFOUND = 1404
SRT_REJX_CONFLICT = 1409

LIVE_PAYLOAD = 1316  # 7 TS packets: SRT's live-mode message size
MAX_STREAMID = 512

LIBRARY_NAMES = ("libsrt.so.1.5", "libsrt-gnutls.so.1.5", "libsrt-openssl.so.1.5")
INSTALL_HINT = "apt-get install libsrt1.5-openssl"


class SrtEpollEvent(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_int)]


# int (*srt_listen_callback_fn)(void* opaq, SRTSOCKET ns, int hsversion,
#                               const struct sockaddr* peeraddr, const char* streamid)
ListenCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p
)


class SrtError(OSError):
    def __init__(self, what: str, code: int, text: str) -> None:
        super().__init__(f"{what}: {text} ({code})")
        self.code = code


def sockaddr(host: str, port: int) -> bytes:
    """A ``struct sockaddr_in``/``sockaddr_in6`` (Linux layout) for ``srt_bind``."""
    if ":" in host:
        addr = socket.inet_pton(socket.AF_INET6, host)
        return struct.pack("=HHI16sI", socket.AF_INET6, socket.htons(port), 0, addr, 0)
    addr = socket.inet_aton(host or "0.0.0.0")
    return struct.pack("=HH4s8x", socket.AF_INET, socket.htons(port), addr)


def parse_sockaddr(raw: bytes) -> tuple[str, int]:
    """(ip, port) of a ``struct sockaddr`` libsrt filled."""
    if len(raw) < 8:
        return "", 0
    family = struct.unpack_from("=H", raw)[0]
    port = struct.unpack_from("!H", raw, 2)[0]
    if family == socket.AF_INET6 and len(raw) >= 24:
        ip = socket.inet_ntop(socket.AF_INET6, raw[8:24])
        return (ip[7:] if ip.startswith("::ffff:") else ip), port
    return socket.inet_ntoa(raw[4:8]), port


class LibSrt:
    """The loaded library with typed functions; one per process (:func:`load`)."""

    def __init__(self, lib: ctypes.CDLL, name: str) -> None:
        self.lib = lib
        self.name = name
        c_int, c_void_p, pint = ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)
        sigs: dict[str, tuple[Any, list[Any]]] = {
            "srt_startup": (c_int, []),
            "srt_create_socket": (c_int, []),
            "srt_setsockflag": (c_int, [c_int, c_int, c_void_p, c_int]),
            "srt_getsockflag": (c_int, [c_int, c_int, c_void_p, pint]),
            "srt_bind": (c_int, [c_int, c_void_p, c_int]),
            "srt_listen": (c_int, [c_int, c_int]),
            "srt_connect": (c_int, [c_int, c_void_p, c_int]),
            "srt_accept": (c_int, [c_int, c_void_p, pint]),
            "srt_listen_callback": (c_int, [c_int, ListenCallback, c_void_p]),
            "srt_setrejectreason": (c_int, [c_int, c_int]),
            "srt_recvmsg": (c_int, [c_int, c_void_p, c_int]),
            "srt_sendmsg": (c_int, [c_int, c_void_p, c_int, c_int, c_int]),
            "srt_close": (c_int, [c_int]),
            "srt_getsockname": (c_int, [c_int, c_void_p, pint]),
            "srt_getpeername": (c_int, [c_int, c_void_p, pint]),
            "srt_getsockstate": (c_int, [c_int]),
            "srt_getlasterror": (c_int, [pint]),
            "srt_getlasterror_str": (ctypes.c_char_p, []),
            "srt_epoll_create": (c_int, []),
            "srt_epoll_add_usock": (c_int, [c_int, c_int, pint]),
            "srt_epoll_remove_usock": (c_int, [c_int, c_int]),
            "srt_epoll_uwait": (c_int, [c_int, ctypes.POINTER(SrtEpollEvent), c_int, ctypes.c_int64]),
            "srt_epoll_set": (ctypes.c_int32, [c_int, ctypes.c_int32]),
            "srt_epoll_release": (c_int, [c_int]),
            "srt_setloglevel": (None, [c_int]),
        }
        for fname, (res, args) in sigs.items():
            f = getattr(lib, fname)
            f.restype = res
            f.argtypes = args

    # ------------------------------------------------------------------ errors

    def error(self, what: str) -> SrtError:
        code = self.lib.srt_getlasterror(None)
        text = self.lib.srt_getlasterror_str() or b""
        return SrtError(what, code, text.decode("utf-8", "replace"))

    def last_error(self) -> int:
        return int(self.lib.srt_getlasterror(None))

    def _check(self, r: int, what: str) -> int:
        if r < 0:
            raise self.error(what)
        return r

    # ------------------------------------------------------------------ sockets

    def create_socket(self) -> int:
        return self._check(self.lib.srt_create_socket(), "srt_create_socket")

    def set_int(self, s: int, opt: int, value: int) -> None:
        v = ctypes.c_int(value)
        self._check(self.lib.srt_setsockflag(s, opt, ctypes.byref(v), 4), f"set option {opt}={value}")

    def set_int64(self, s: int, opt: int, value: int) -> None:
        v = ctypes.c_int64(value)
        self._check(self.lib.srt_setsockflag(s, opt, ctypes.byref(v), 8), f"set option {opt}={value}")

    def set_bool(self, s: int, opt: int, value: bool) -> None:
        v = ctypes.c_bool(value)
        self._check(self.lib.srt_setsockflag(s, opt, ctypes.byref(v), 1), f"set option {opt}={value}")

    def set_str(self, s: int, opt: int, value: str) -> None:
        raw = value.encode()
        self._check(self.lib.srt_setsockflag(s, opt, raw, len(raw)), f"set option {opt}")

    def get_int(self, s: int, opt: int) -> int:
        v = ctypes.c_int64(0)  # room for the 64-bit options; ints fill the low half (little endian)
        n = ctypes.c_int(8)
        self._check(self.lib.srt_getsockflag(s, opt, ctypes.byref(v), ctypes.byref(n)), f"get option {opt}")
        return int(v.value) if n.value == 8 else int(ctypes.c_int32(v.value & 0xFFFFFFFF).value)

    def streamid(self, s: int) -> str:
        buf = ctypes.create_string_buffer(MAX_STREAMID + 1)
        n = ctypes.c_int(MAX_STREAMID + 1)
        self._check(self.lib.srt_getsockflag(s, SRTO_STREAMID, buf, ctypes.byref(n)), "get streamid")
        return buf.raw[: max(0, n.value)].split(b"\0", 1)[0].decode("utf-8", "replace")

    def bind(self, s: int, host: str, port: int) -> None:
        sa = sockaddr(host, port)
        self._check(self.lib.srt_bind(s, sa, len(sa)), f"srt_bind {host}:{port}")

    def connect(self, s: int, host: str, port: int) -> None:
        """Caller mode (blocking unless SRTO_RCVSYN is off): tests and future SRT pulls use it."""
        sa = sockaddr(host, port)
        self._check(self.lib.srt_connect(s, sa, len(sa)), f"srt_connect {host}:{port}")

    def listen(self, s: int, backlog: int = 100) -> None:
        self._check(self.lib.srt_listen(s, backlog), "srt_listen")

    def listen_callback(self, s: int, fn: Any) -> None:
        self._check(self.lib.srt_listen_callback(s, fn, None), "srt_listen_callback")

    def reject(self, s: int, reason: int) -> None:
        self.lib.srt_setrejectreason(s, reason)

    def accept(self, s: int) -> tuple[int, tuple[str, int]] | None:
        """An accepted socket and its peer, or None when none is pending (non-blocking listener)."""
        buf = ctypes.create_string_buffer(128)
        n = ctypes.c_int(128)
        r = self.lib.srt_accept(s, buf, ctypes.byref(n))
        if r < 0:
            return None
        return r, parse_sockaddr(buf.raw[: n.value])

    def sockname(self, s: int) -> tuple[str, int]:
        buf = ctypes.create_string_buffer(128)
        n = ctypes.c_int(128)
        self._check(self.lib.srt_getsockname(s, buf, ctypes.byref(n)), "srt_getsockname")
        return parse_sockaddr(buf.raw[: n.value])

    def state(self, s: int) -> int:
        return int(self.lib.srt_getsockstate(s))

    def close(self, s: int) -> None:
        self.lib.srt_close(s)

    def sendmsg(self, s: int, data: bytes) -> int:
        """One message (<= payloadsize); -1 when libsrt refused it (see :meth:`last_error`)."""
        return int(self.lib.srt_sendmsg(s, data, len(data), -1, 1))

    # ------------------------------------------------------------------ epoll

    def epoll_create(self) -> int:
        eid = self._check(self.lib.srt_epoll_create(), "srt_epoll_create")
        self.lib.srt_epoll_set(eid, SRT_EPOLL_ENABLE_EMPTY)
        return eid

    def epoll_add(self, eid: int, s: int, events: int) -> None:
        ev = ctypes.c_int(events)
        self._check(self.lib.srt_epoll_add_usock(eid, s, ctypes.byref(ev)), "srt_epoll_add_usock")

    def epoll_remove(self, eid: int, s: int) -> None:
        self.lib.srt_epoll_remove_usock(eid, s)

    def epoll_release(self, eid: int) -> None:
        self.lib.srt_epoll_release(eid)


_loaded: LibSrt | None = None
_tried = False
_lock = threading.Lock()


def load(names: tuple[str, ...] = LIBRARY_NAMES) -> LibSrt | None:
    """libsrt started once per process (``srt_startup``; never cleaned up), or None if absent."""
    global _loaded, _tried
    with _lock:
        if _tried:
            return _loaded
        _tried = True
        found = ctypes.util.find_library("srt")
        for name in (*names, *((found,) if found else ())):
            try:
                lib = ctypes.CDLL(name)
            except OSError:
                continue
            try:
                srt = LibSrt(lib, name)
            except AttributeError:  # an older libsrt without the 1.5 API
                continue
            if srt.lib.srt_startup() < 0:
                continue
            srt.lib.srt_setloglevel(2)  # LOG_CRIT: libsrt logs a non-blocking accept's EAGAIN as an error
            _loaded = srt
            break
        return _loaded


CheckStreamId = Callable[[str], int | None]
