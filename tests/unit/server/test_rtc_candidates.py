"""The answer's candidate set (srs.server.rtc.candidates): SRS's discover_candidates as case tables."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from srs.config import RtcServerConfig
from srs.server.rtc.candidates import (
    HostResolver,
    LocalAddress,
    api_host_needs_resolving,
    candidate_hosts,
    make_candidates,
    scan_interfaces,
    split_hostport,
)

ETH0 = LocalAddress("192.168.1.10", True, False, "eth0")
ETH1 = LocalAddress("10.0.0.5", True, False, "eth1")
LO = LocalAddress("127.0.0.1", True, True, "lo")
V6 = LocalAddress("fd00::2", False, False, "eth0")
IFACES = (ETH0, V6, ETH1)

BASE = RtcServerConfig()  # candidate "*", auto-detect on, ipv4, api_as_candidates on, resolve on


def cfg(**kw: object) -> RtcServerConfig:
    return replace(BASE, **kw)  # type: ignore[arg-type]


# (name, config, eip, api_host, resolved, interfaces, expected sorted host set)
CASES: list[tuple[str, RtcServerConfig, str, str, str | None, tuple[LocalAddress, ...], list[str]]] = [
    ("auto-detect ipv4, sorted", BASE, "", "", None, IFACES, ["10.0.0.5", "192.168.1.10"]),
    ("ip_family ipv6", cfg(ip_family="ipv6"), "", "", None, IFACES, ["fd00::2"]),
    ("ip_family all", cfg(ip_family="all"), "", "", None, IFACES, ["10.0.0.5", "192.168.1.10", "fd00::2"]),
    ("0.0.0.0 is auto too", cfg(candidate="0.0.0.0"), "", "", None, (ETH0,), ["192.168.1.10"]),
    ("loopback never auto-detected", BASE, "", "", None, (LO, ETH0), ["192.168.1.10"]),
    ("fallback: first IPv4 (loopback)", BASE, "", "", None, (LO,), ["127.0.0.1"]),
    ("fallback: first IPv4 of any family", cfg(ip_family="ipv6"), "", "", None, (LO, ETH0), ["127.0.0.1"]),
    ("fallback: first IP when no IPv4", BASE, "", "", None, (V6,), ["fd00::2"]),
    ("no interfaces at all: 127.0.0.1", BASE, "", "", None, (), ["127.0.0.1"]),
    (
        "auto-detect off: fallback",
        cfg(use_auto_detect_network_ip=False),
        "",
        "",
        None,
        (ETH0, ETH1),
        ["192.168.1.10"],
    ),
    ("configured candidate only", cfg(candidate="1.2.3.4"), "", "", None, IFACES, ["1.2.3.4"]),
    ("configured name kept", cfg(candidate="rtc.example.com"), "", "", None, IFACES, ["rtc.example.com"]),
    ("configured with port", cfg(candidate="1.2.3.4:9000"), "", "", None, (), ["1.2.3.4:9000"]),
    ("eip adds to configured", cfg(candidate="1.2.3.4"), "5.6.7.8", "", None, IFACES, ["1.2.3.4", "5.6.7.8"]),
    ("eip adds to auto", BASE, "5.6.7.8", "", None, (ETH0,), ["192.168.1.10", "5.6.7.8"]),
    ("eip with port", cfg(candidate="1.2.3.4"), "5.6.7.8:10000", "", None, (), ["1.2.3.4", "5.6.7.8:10000"]),
    ("eip stops the fallback", BASE, "5.6.7.8", "", None, (LO,), ["5.6.7.8"]),
    ("API IPv4 host", cfg(candidate="1.2.3.4"), "", "9.9.9.9", None, (), ["1.2.3.4", "9.9.9.9"]),
    ("API host off", cfg(candidate="1.2.3.4", api_as_candidates=False), "", "9.9.9.9", None, (), ["1.2.3.4"]),
    ("API localhost skipped", cfg(candidate="1.2.3.4"), "", "localhost", "127.0.0.1", (), ["1.2.3.4"]),
    ("API 127.0.0.1 skipped", cfg(candidate="1.2.3.4"), "", "127.0.0.1", None, (), ["1.2.3.4"]),
    ("API ::1 skipped", cfg(candidate="1.2.3.4"), "", "::1", "::1", (), ["1.2.3.4"]),
    ("API 0.0.0.0 skipped", cfg(candidate="1.2.3.4"), "", "0.0.0.0", None, (), ["1.2.3.4"]),
    (
        "API name resolved",
        cfg(candidate="1.2.3.4"),
        "",
        "api.example.com",
        "8.8.4.4",
        (),
        ["1.2.3.4", "8.8.4.4"],
    ),
    ("API name unresolved", cfg(candidate="1.2.3.4"), "", "api.example.com", None, (), ["1.2.3.4"]),
    (
        "API name kept and resolved",
        cfg(candidate="1.2.3.4", keep_api_domain=True),
        "",
        "api.example.com",
        "8.8.4.4",
        (),
        ["1.2.3.4", "8.8.4.4", "api.example.com"],
    ),
    (
        "API name kept, not resolved",
        cfg(candidate="1.2.3.4", keep_api_domain=True, resolve_api_domain=False),
        "",
        "api.example.com",
        "8.8.4.4",
        (),
        ["1.2.3.4", "api.example.com"],
    ),
    (
        "API name resolving to loopback",
        cfg(candidate="1.2.3.4"),
        "",
        "me.local",
        "127.0.0.1",
        (),
        ["1.2.3.4"],
    ),
    ("API host adds to auto", BASE, "", "9.9.9.9", None, (ETH0,), ["192.168.1.10", "9.9.9.9"]),
    ("API host stops the fallback", BASE, "", "9.9.9.9", None, (LO,), ["9.9.9.9"]),
    ("set: duplicates once", cfg(candidate="1.2.3.4"), "1.2.3.4", "1.2.3.4", None, (), ["1.2.3.4"]),
    ("eip with CRLF dropped", cfg(candidate="1.2.3.4"), "5.6.7.8\r\na=x", "", None, (), ["1.2.3.4"]),
    ("eip with space dropped", cfg(candidate="1.2.3.4"), "a b", "", None, (), ["1.2.3.4"]),
    (
        "API host with junk dropped",
        cfg(candidate="1.2.3.4", keep_api_domain=True),
        "",
        "a\tb",
        None,
        (),
        ["1.2.3.4"],
    ),
]


@pytest.mark.parametrize(
    ("config", "eip", "api_host", "resolved", "interfaces", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_candidate_hosts(
    config: RtcServerConfig,
    eip: str,
    api_host: str,
    resolved: str | None,
    interfaces: tuple[LocalAddress, ...],
    expected: list[str],
) -> None:
    got = candidate_hosts(config, eip=eip, api_host=api_host, resolved=resolved, interfaces=interfaces)
    assert got == expected


@pytest.mark.parametrize(
    ("config", "host", "expected"),
    [
        (BASE, "api.example.com", True),
        (BASE, "1.2.3.4", False),  # IPv4 literal: used directly
        (BASE, "localhost", False),
        (BASE, "", False),
        (BASE, "bad host", False),
        (BASE, "fd00::2", True),  # not "digits and dots": resolved like a name (to itself)
        (cfg(resolve_api_domain=False), "api.example.com", False),
        (cfg(api_as_candidates=False), "api.example.com", False),
    ],
)
def test_api_host_needs_resolving(config: RtcServerConfig, host: str, expected: bool) -> None:
    assert api_host_needs_resolving(config, host) is expected


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("1.2.3.4", ("1.2.3.4", 8000)),
        ("1.2.3.4:9000", ("1.2.3.4", 9000)),
        ("1.2.3.4:", ("1.2.3.4", 8000)),
        ("1.2.3.4:0", ("1.2.3.4", 8000)),
        ("1.2.3.4:99999", ("1.2.3.4", 8000)),
        ("1.2.3.4:12ab", ("1.2.3.4", 12)),  # atoi
        ("1.2.3.4:x", ("1.2.3.4", 8000)),
        ("host.example:443", ("host.example", 443)),
        ("fd00::2", ("fd00::2", 8000)),
        ("[fd00::2]:9000", ("fd00::2", 9000)),
        ("[fd00::2]", ("fd00::2", 8000)),
    ],
)
def test_split_hostport(entry: str, expected: tuple[str, int]) -> None:
    assert split_hostport(entry, 8000) == expected


def test_make_candidates_per_protocol() -> None:
    hosts = ["1.2.3.4", "5.6.7.8:9000"]
    udp = [str(c) for c in make_candidates(hosts, "udp", 8000, 8001)]
    assert udp == [
        "candidate:0 1 udp 2130706431 1.2.3.4 8000 typ host generation 0",
        "candidate:1 1 udp 2130706431 5.6.7.8 9000 typ host generation 0",
    ]
    tcp = [str(c) for c in make_candidates(hosts, "tcp", 8000, 8001)]
    assert tcp == [
        "candidate:0 1 tcp 2130706431 1.2.3.4 8001 typ host tcptype passive",
        "candidate:1 1 tcp 2130706431 5.6.7.8 9000 typ host tcptype passive",
    ]
    both = [(c.transport, c.address, c.port, c.foundation) for c in make_candidates(hosts, "all", 8000, 8001)]
    assert both == [
        ("udp", "1.2.3.4", 8000, "0"),
        ("tcp", "1.2.3.4", 8001, "1"),
        ("udp", "5.6.7.8", 9000, "2"),
        ("tcp", "5.6.7.8", 9000, "3"),
    ]


def test_scan_interfaces_reads_this_host() -> None:
    found = scan_interfaces()
    assert all(a.ip for a in found)
    # SRS's list holds a loopback address only when nothing else was found.
    assert not any(a.loopback for a in found) or all(a.loopback for a in found)


async def test_resolver_caches_answers_and_failures() -> None:
    calls: list[str] = []
    now = [0.0]

    async def lookup(host: str) -> str | None:
        calls.append(host)
        return {"a.example": "8.8.8.8"}.get(host)

    r = HostResolver(lookup, ttl_s=10.0, clock=lambda: now[0])
    assert await r.resolve("a.example") == "8.8.8.8"
    assert await r.resolve("a.example") == "8.8.8.8"
    assert await r.resolve("b.example") is None
    assert await r.resolve("b.example") is None
    assert calls == ["a.example", "b.example"]
    now[0] = 11.0
    assert await r.resolve("a.example") == "8.8.8.8"
    assert calls == ["a.example", "b.example", "a.example"]


async def test_resolver_times_out_and_is_bounded() -> None:
    async def slow(host: str) -> str | None:
        await asyncio.sleep(3600)
        return "1.1.1.1"

    r = HostResolver(slow, timeout_s=0.01, max_entries=2)
    for name in ("x.example", "y.example", "z.example"):
        assert await r.resolve(name) is None
        assert len(r._cache) <= 2


async def test_resolver_default_lookup_of_a_literal() -> None:
    # getaddrinfo of an IP literal needs no DNS.
    assert await HostResolver().resolve("10.1.2.3") == "10.1.2.3"
