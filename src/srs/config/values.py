"""Scalar conversions exactly as SRS's getters do them, plus :class:`Endpoint`.

SRS reads numbers with C ``atoi``/``atof`` (a leading numeric prefix, else 0) and switches with two
macros (``srs_app_config.cpp``)::

    SRS_CONF_PERFER_FALSE(v)  v == "on"     // switches that default to off
    SRS_CONF_PERFER_TRUE(v)   v != "off"    // switches that default to on

so ``true``/``yes``/``1`` do *not* turn a default-off switch on (reference gotcha 8).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

__all__ = ["Endpoint", "atof", "atoi", "bool_off", "bool_on", "is_number", "time_jitter"]

_INT = re.compile(r"[ \t\n\r\f\v]*([+-]?\d+)")
_FLOAT = re.compile(r"[ \t\n\r\f\v]*([+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))")
_CLEAN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def atoi(text: str) -> int:
    """C ``atoi``: the leading integer of ``text`` or 0 (``"10s"`` -> 10, ``"abc"`` -> 0)."""
    m = _INT.match(text)
    return int(m.group(1)) if m else 0


def atof(text: str) -> float:
    """C ``atof`` on decimal input: the leading number of ``text`` or 0.0."""
    m = _FLOAT.match(text)
    if not m:
        return 0.0
    try:
        return float(m.group(1))
    except (ValueError, OverflowError):  # pragma: no cover - float() saturates to inf instead
        return 0.0


def is_number(text: str) -> bool:
    """Whether ``text`` is a plain number (else SRS's atoi/atof silently reads a prefix or 0)."""
    return _CLEAN_NUMBER.fullmatch(text) is not None


def bool_off(value: str | None, default: bool = False) -> bool:
    """A default-off switch: only the literal ``on`` enables it (``SRS_CONF_PERFER_FALSE``)."""
    return default if value is None else value == "on"


def bool_on(value: str | None, default: bool = True) -> bool:
    """A default-on switch: anything but ``off`` keeps it on (``SRS_CONF_PERFER_TRUE``)."""
    return default if value is None else value != "off"


def time_jitter(value: str | None, default: str = "full") -> str:
    """``srs_time_jitter_string2int``: ``full``, ``zero``, anything else is ``off``."""
    v = default if value is None else value
    return v if v in ("full", "zero") else "off"


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    """A listen endpoint ``[ip:]port`` as SRS's ``srs_parse_endpoint`` splits it.

    ``host == ""`` means all interfaces: SRS binds ``0.0.0.0`` for a bare port.
    """

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """``"1935"``, ``"0.0.0.0:1935"``, ``"[::]:1935"``, ``"127.0.0.1:1935"``.

        Never raises: like SRS the port is read with atoi (garbage gives 0); the checker
        validates host and port where SRS does.
        """
        s = text.strip()
        if s.startswith("["):
            close = s.find("]")
            if close > 0:
                host = s[1:close]
                rest = s[close + 1 :]
                return cls(host, atoi(rest[1:]) if rest.startswith(":") else 0)
        if ":" in s:
            host, _, port = s.rpartition(":")
            return cls(host, atoi(port))
        return cls("", atoi(s))

    @property
    def bind_host(self) -> str:
        """Address to bind: ``0.0.0.0`` for "all interfaces" as SRS."""
        return self.host or "0.0.0.0"

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    def host_is_valid(self) -> bool:
        """SRS ``srs_check_ip_addr_valid``: empty or an IPv4/IPv6 literal."""
        if not self.host:
            return True
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    def __str__(self) -> str:
        if not self.host:
            return str(self.port)
        if self.is_ipv6:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"
