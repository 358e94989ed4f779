"""Access control: ``vhost.security`` allow/deny rules and ``vhost.refer`` (reference 2.3.11).

The rule evaluation is SRS's real one (``SrsSecurity::do_check``), which is not what full.conf's
comments suggest:

1. any matching ``deny`` rule rejects (1053);
2. any matching ``allow`` rule accepts;
3. otherwise, if there is at least one ``allow`` rule (for *any* method) or no rule at all,
   the client is rejected (1054);
4. only non-matching ``deny`` rules: accepted.

A rule matches a client when its method (``play``/``publish``) is the client's and its entry is
``all``, the client's IP, or an IPv4 CIDR containing it (a bare IPv4 is a ``/32``).

Refer (hotlink protection) checks the RTMP ``pageUrl``'s host against domain suffixes: ``all`` at
connect, ``play``/``publish`` when the client plays/publishes. SRS compat: only RTMP clients are
checked; SRS's HTTP stream server does no refer check (the ``Referer`` header only becomes the
``pageUrl`` of the on_play hook), so neither do we.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from srs.config import DEFAULT_VHOST, VhostConfig
from srs.config.schema_vhost import SecurityRule
from srs.util.errors import AccessDeniedError, ErrorCode

if TYPE_CHECKING:
    from srs.server.context import ServerContext
    from srs.server.policy import Client

ReferScope = Literal["all", "play", "publish"]

PLAY_KINDS = frozenset({"rtmp-play", "flv-play", "hls-play", "rtc-play", "srt-play", "rtsp-play"})
PUBLISH_KINDS = frozenset(
    {"fmle-publish", "flash-publish", "haivision-publish", "rtc-publish", "srt-publish", "rtsp-publish"}
)
RTMP_KINDS = frozenset({"rtmp-play", "fmle-publish", "flash-publish", "haivision-publish"})


def _method_of(kind: str) -> str:
    if kind in PLAY_KINDS:
        return "play"
    if kind in PUBLISH_KINDS:
        return "publish"
    return ""  # unknown clients match no rule (SRS's SrsRtmpConnUnknown)


def _ipv4(text: str) -> ipaddress.IPv4Address | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        return ip.ipv4_mapped  # ::ffff:a.b.c.d is that IPv4 client (dual-stack sockets)
    return ip


def _network(entry: str) -> ipaddress.IPv4Network | None:
    """SRS ``srs_net_get_cidr_ipv4``/``_mask``: ``a.b.c.d`` is ``/32``, ``a.b.c.d/N`` with
    1 <= N <= 32; anything else (IPv6, bad prefix) is not a network."""
    addr, slash, bits = entry.partition("/")
    if slash and not (bits.isdigit() and 1 <= int(bits) <= 32):
        return None
    try:
        return ipaddress.IPv4Network(f"{addr}/{bits or 32}", strict=False)
    except ValueError:
        return None


def rule_matches(rule: SecurityRule, method: str, ip: str) -> bool:
    if not method or rule.method != method:
        return False
    if rule.entry == "all" or rule.entry == ip:
        return True
    net = _network(rule.entry)
    addr = _ipv4(ip)
    return net is not None and addr is not None and addr in net


def evaluate(rules: Sequence[SecurityRule] | None, kind: str, ip: str) -> None:
    """Raise :class:`AccessDeniedError` (1052/1053/1054) when ``rules`` refuse a client of SRS
    type ``kind`` from ``ip``. ``rules`` is ``None`` when the vhost has no ``security`` block
    (SRS: "default deny", 1052; unreachable from a config file, where ``enabled`` lives in it)."""
    if rules is None:
        raise AccessDeniedError(f"security: default deny for {ip}", ErrorCode.SYSTEM_SECURITY)
    method = _method_of(kind)
    for rule in rules:
        if rule.action == "deny" and rule_matches(rule, method, ip):
            raise AccessDeniedError(
                f"security: {kind} from {ip} denied by rule<deny {rule.method} {rule.entry}>",
                ErrorCode.SYSTEM_SECURITY_DENY,
            )
    allows = denies = 0
    for rule in rules:
        if rule.action == "allow":
            allows += 1
            if rule_matches(rule, method, ip):
                return
        elif rule.action == "deny":
            denies += 1
    if allows > 0 or allows + denies == 0:
        raise AccessDeniedError(
            f"security: {kind} from {ip} not allowed by any of {allows}/{denies} rules",
            ErrorCode.SYSTEM_SECURITY_ALLOW,
        )


def page_domain(page_url: str) -> str:
    """The host of a page URL: scheme, path and port removed (SRS ``check_single_refer``)."""
    d = page_url
    pos = d.find("://")
    if pos >= 0:
        d = d[pos + 3 :]
    pos = d.find("/")
    if pos >= 0:
        d = d[:pos]
    pos = d.find(":")
    if pos >= 0:
        d = d[:pos]
    return d


def refer_allows(page_url: str, refers: Sequence[str]) -> bool:
    """Whether ``page_url``'s host ends with one of ``refers``.

    SRS compat: the *first* occurrence of the entry must be at the end of the host, so
    ``a.com.a.com`` does not match ``a.com`` (SRS uses ``find``, not a suffix test).
    """
    domain = page_domain(page_url)
    for refer in refers:
        pos = domain.find(refer)
        if pos >= 0 and pos == len(domain) - len(refer):
            return True
    return False


class Security:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    def _vhost(self, name: str) -> VhostConfig | None:
        cfg = self.ctx.config
        return cfg.vhost(name) or cfg.vhost(DEFAULT_VHOST)

    def check(self, client: Client) -> None:
        """Raise ``AccessDeniedError`` (SRS 1052/1053/1054) when the rules refuse the client."""
        v = self._vhost(client.request.vhost)
        if v is None or not v.security.enabled:
            return
        evaluate(v.security.rules, client.kind, client.ip)

    def check_refer(self, client: Client, scope: ReferScope) -> None:
        """Raise ``AccessDeniedError`` (SRS 2015) when the page URL is not allowed."""
        if client.kind not in RTMP_KINDS:
            return
        v = self._vhost(client.request.vhost)
        if v is None or not v.refer.enabled:
            return
        refers: tuple[str, ...] = getattr(v.refer, scope)
        if not refers:
            return  # SRS: no such directive, no check
        page_url = client.request.page_url
        if not refer_allows(page_url, refers):
            raise AccessDeniedError(
                f"refer: pageUrl {page_url!r} not in refer.{scope} {' '.join(refers)}",
                ErrorCode.RTMP_ACCESS_DENIED,
            )
