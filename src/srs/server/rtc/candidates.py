"""Which ``a=candidate`` lines a WebRTC answer lists (SRS ``discover_candidates``,
``api_server_as_candidates`` in srs_app_rtc_server.cpp and ``do_create_session``), pure functions.

SRS builds a sorted set of host strings, then writes one candidate per entry and per protocol:

1. the request's ``eip`` (else ``candidate``) query value, which may carry ``:port``;
2. the API host of the request (WHIP: ``vhost``/``domain`` query else the ``Host`` header; legacy
   API: the ``streamurl`` host) when ``api_as_candidates`` is on: an IPv4 literal (digits and dots)
   as is; another name verbatim when ``keep_api_domain``, and its address when
   ``resolve_api_domain`` (the resolution is the caller's: :class:`HostResolver`); ``localhost``,
   ``127.0.0.1``, ``0.0.0.0`` and ``::`` are skipped, before and after resolution;
3. ``rtc_server.candidate`` (the config has already expanded ``$NAME``; an unset variable is ``*``):
   any other value than ``*``/``0.0.0.0`` is added and the set is final;
4. for ``*``/``0.0.0.0``, when ``use_auto_detect_network_ip``: the non-loopback interface addresses
   of ``ip_family`` (``ipv4``, ``ipv6``, anything else: both); if the set is still empty, the first
   IPv4 address of the interface list, else its first address.

Each entry is then split like ``srs_parse_hostport`` (``ip:port``, ``[v6]:port``, a bare IPv6) and
gets the UDP port (``udp`` protocol), the TCP port (``tcp``) or both (``all``, UDP first).

Where we differ: ``::1`` is skipped with the other loopback names (SRS skips ``::`` only); an entry
that is not a plain host (whitespace, control characters, anything but letters, digits and
``.:-_[]%``) is dropped with a warning instead of being written into the SDP; a port that is not
1..65535 keeps the default port (SRS's ``atoi`` would write 0); ``[v6]`` without a port loses its
brackets; when everything is empty the answer still lists ``127.0.0.1`` (SRS would list nothing),
so a loopback-only host can be tested.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from srs.config import RtcServerConfig
from srs.protocol.rtc.negotiate import tcp_candidate, udp_candidate
from srs.protocol.rtc.sdp import Candidate

__all__ = [
    "HostResolver",
    "LocalAddress",
    "api_host_needs_resolving",
    "candidate_hosts",
    "local_addresses",
    "make_candidates",
    "split_hostport",
]

log = logging.getLogger("srs")

SKIPPED_HOSTS = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "::", "::1"})
ANY = frozenset({"*", "0.0.0.0"})
FALLBACK = "127.0.0.1"
_PLAIN_HOST = re.compile(r"[A-Za-z0-9.:\-_\[\]%]{1,255}")


@dataclass(frozen=True, slots=True)
class LocalAddress:
    """One address of a local network interface (SRS ``SrsIPAddress``)."""

    ip: str
    ipv4: bool
    loopback: bool = False
    ifname: str = ""


def is_ipv4_text(host: str) -> bool:
    """SRS ``srs_is_ipv4``: only digits and dots (we also require it to be non-empty)."""
    return bool(host) and all(ch == "." or "0" <= ch <= "9" for ch in host)


def plain_host(entry: str) -> bool:
    """Whether ``entry`` can go into an ``a=candidate`` line as a host (with an optional port)."""
    return _PLAIN_HOST.fullmatch(entry) is not None


def api_host_needs_resolving(rtc: RtcServerConfig, api_host: str) -> bool:
    """Whether :func:`candidate_hosts` wants ``api_host`` resolved (a name, resolution on)."""
    return (
        rtc.api_as_candidates
        and rtc.resolve_api_domain
        and bool(api_host)
        and api_host not in SKIPPED_HOSTS
        and not is_ipv4_text(api_host)
        and plain_host(api_host)
    )


def _api_hosts(rtc: RtcServerConfig, api_host: str, resolved: str | None) -> list[str]:
    if not api_host or not rtc.api_as_candidates or api_host in SKIPPED_HOSTS:
        return []
    if is_ipv4_text(api_host):
        return [api_host]
    out = []
    if rtc.keep_api_domain:
        out.append(api_host)
    if rtc.resolve_api_domain and resolved and resolved not in SKIPPED_HOSTS:
        out.append(resolved)
    return out


def candidate_hosts(
    rtc: RtcServerConfig,
    *,
    eip: str = "",
    api_host: str = "",
    resolved: str | None = None,
    interfaces: Sequence[LocalAddress] = (),
) -> list[str]:
    """The sorted host set of the answer's candidates (entries may carry ``:port``).

    ``resolved`` is ``api_host``'s address when :func:`api_host_needs_resolving` said so (None if
    unknown); ``interfaces`` is :func:`local_addresses` (or a test's list).
    """
    hosts: set[str] = set()

    def add(entries: Iterable[str], what: str) -> None:
        for e in entries:
            if plain_host(e):
                hosts.add(e)
            else:
                log.warning("RTC: ignored %s candidate %r: not a plain host", what, e[:64])

    if eip:
        add([eip], "eip")
    add(_api_hosts(rtc, api_host, resolved), "API host")
    configured = rtc.candidate
    if configured not in ANY:
        add([configured], "rtc_server.candidate")
    elif interfaces:
        if rtc.use_auto_detect_network_ip:
            family = rtc.ip_family
            for a in interfaces:
                if a.loopback or (family == "ipv4" and not a.ipv4) or (family == "ipv6" and a.ipv4):
                    continue
                add([a.ip], "interface")
        if not hosts:
            first_v4 = next((a.ip for a in interfaces if a.ipv4), None)
            add([first_v4 if first_v4 is not None else interfaces[0].ip], "interface")
    return sorted(hosts) if hosts else [FALLBACK]


def _port(text: str, default: int) -> int:
    # SRS: atoi, "" and "0" keep the default; ours also keeps it for anything outside 1..65535.
    digits = re.match(r"\d{1,5}", text)
    value = int(digits.group()) if digits else 0
    return value if 0 < value < 65536 else default


def split_hostport(entry: str, default_port: int) -> tuple[str, int]:
    """SRS ``srs_parse_hostport``: ``host``, ``host:port``, bare IPv6, ``[v6]:port``."""
    colon = entry.rfind(":")
    if colon < 0:
        return entry, default_port
    if entry.find(":") == colon:
        return entry[:colon], _port(entry[colon + 1 :], default_port)
    close = entry.rfind("]:")
    if not entry.startswith("[") or close < 0:
        return entry.strip("[]"), default_port
    return entry[1:close], _port(entry[close + 2 :], default_port)


def make_candidates(hosts: Sequence[str], protocol: str, udp_port: int, tcp_port: int) -> list[Candidate]:
    """One candidate per host for ``udp`` or ``tcp``, both (UDP first) for anything else (``all``).

    Foundations count up from 0 in the order written (SRS numbers them as it adds them).
    """
    out: list[Candidate] = []
    for entry in hosts:
        host, uport = split_hostport(entry, udp_port)
        _, tport = split_hostport(entry, tcp_port)
        if protocol != "tcp":
            out.append(udp_candidate(host, uport, len(out)))
        if protocol != "udp":
            out.append(tcp_candidate(host, tport, len(out)))
    return out


# ---------------------------------------------------------------- the injected side (I/O)


def _flags(stats: object) -> set[str]:
    raw = getattr(stats, "flags", "") or ""
    return set(str(raw).split(","))


def scan_interfaces() -> list[LocalAddress]:
    """SRS ``retrieve_local_ips``: IPv4 of interfaces up and running, not loopback or
    point-to-point; then IPv6 likewise (not promiscuous either); if none, IPv4 with loopback."""
    import psutil

    addrs = psutil.net_if_addrs()
    stats = psutil.net_if_stats()

    def scan(family: socket.AddressFamily, loopback_ok: bool, ipv6: bool) -> list[LocalAddress]:
        out = []
        for name, items in addrs.items():
            st = stats.get(name)
            flags = _flags(st)
            up = st is not None and st.isup and ("running" in flags or not flags - {""})
            loopback = "loopback" in flags
            if not up or "pointopoint" in flags or (ipv6 and "promisc" in flags):
                continue
            for a in items:
                if a.family != family:
                    continue
                try:
                    loopback = loopback or ipaddress.ip_address(a.address.split("%", 1)[0]).is_loopback
                except ValueError:
                    continue
                if loopback and not loopback_ok:
                    continue
                out.append(LocalAddress(a.address, not ipv6, loopback, name))
        return out

    found = scan(socket.AF_INET, False, False) + scan(socket.AF_INET6, False, True)
    return found or scan(socket.AF_INET, True, False)


@functools.cache
def local_addresses() -> tuple[LocalAddress, ...]:
    """The local addresses, read once per process (SRS caches them too)."""
    try:
        found = tuple(scan_interfaces())
    except (OSError, AttributeError) as e:
        log.warning("RTC: cannot list network interfaces: %s", e)
        found = ()
    log.info("RTC: local addresses %s", ", ".join(f"{a.ifname}={a.ip}" for a in found) or "none")
    return found


Lookup = Callable[[str], Awaitable[str | None]]


async def _getaddrinfo(host: str) -> str | None:
    """SRS ``srs_dns_resolve``: the first address ``getaddrinfo`` gives (any family)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        return None
    for _family, _type, _proto, _name, sockaddr in infos:
        return str(sockaddr[0])
    return None


class HostResolver:
    """Resolves API host names for candidates: cached (answers and failures alike, ``ttl_s``),
    bounded (``max_entries``) and with a ``timeout_s``, since the name comes from the request.

    SRS resolves synchronously on every request; ``lookup`` is injected so tests need no DNS.
    """

    def __init__(
        self,
        lookup: Lookup = _getaddrinfo,
        *,
        ttl_s: float = 60.0,
        timeout_s: float = 2.0,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lookup = lookup
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.max_entries = max_entries
        self.clock = clock
        self._cache: dict[str, tuple[float, str | None]] = {}

    async def resolve(self, host: str) -> str | None:
        now = self.clock()
        hit = self._cache.get(host)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        try:
            ip = await asyncio.wait_for(self.lookup(host), self.timeout_s)
        except TimeoutError:
            log.warning("RTC: resolving API host %r timed out", host[:64])
            ip = None
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        self._cache[host] = (now, ip)
        return ip
