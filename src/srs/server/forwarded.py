"""Which address an HTTP client has: the TCP peer, or what a trusted proxy says it forwarded.

SRS uses the TCP peer address for HTTP players (``SrsLiveStream::serve_http``: ``req->ip =
hc->remote_ip()``), for ``security`` rules, hooks and stats alike: a header a client writes itself
must not get it past ``deny play <ip>``. Behind a reverse proxy every client then has the proxy's
address; ``trusted_proxies`` (ours) names the proxies whose ``X-Forwarded-For`` / ``X-Real-IP``
are believed. Only from those peers, the client is the right-most ``X-Forwarded-For`` entry that is
not itself a trusted proxy (entries left of it were written by the client and prove nothing), else
``X-Real-IP``, else the peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def parse_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """``trusted_proxies`` as networks (config checks already refused what does not parse)."""
    out: list[Network] = []
    for e in entries:
        try:
            out.append(ipaddress.ip_network(e, strict=False))
        except ValueError:
            continue
    return tuple(out)


def _trusted(ip: str, networks: Iterable[Network]) -> bool:
    try:
        addr = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr.version == n.version and addr in n for n in networks)


def _strip_port(value: str) -> str:
    """``1.2.3.4:5678`` -> ``1.2.3.4``; ``[::1]:80`` -> ``::1``; a bare IPv6 address stays."""
    v = value.strip()
    if v.startswith("["):
        end = v.find("]")
        return v[1:end] if end > 0 else v
    if v.count(":") == 1:
        return v.split(":", 1)[0]
    return v


def client_address(peer: str, forwarded_for: str, real_ip: str, trusted: tuple[str, ...]) -> str:
    """The client's address for security, hooks and stats (see the module docstring)."""
    if not trusted:
        return peer
    networks = parse_networks(trusted)
    if not _trusted(peer, networks):
        return peer
    hops = [_strip_port(h) for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    if hops:
        return hops[0]  # every hop is a trusted proxy: the first one is as close as we get
    real = _strip_port(real_ip)
    return real or peer
