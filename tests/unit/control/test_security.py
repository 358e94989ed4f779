"""Security rules in SRS's real order (deny, allow, default) and refer matching, from case tables."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srs.config.schema_vhost import SecurityRule
from srs.control.security import evaluate, page_domain, refer_allows, rule_matches
from srs.util.errors import AccessDeniedError, ErrorCode


def rules(*lines: str) -> tuple[SecurityRule, ...]:
    out = []
    for line in lines:
        action, method, entry = line.split()
        out.append(SecurityRule(action, method, entry))
    return tuple(out)


OK = None
DENY = ErrorCode.SYSTEM_SECURITY_DENY  # 1053
NOT_ALLOWED = ErrorCode.SYSTEM_SECURITY_ALLOW  # 1054

# (rules, kind, ip, expected code or None)
CASES = [
    # no rules at all: SRS rejects everyone (allow_check: 0 allow and 0 deny rules)
    ((), "rtmp-play", "127.0.0.1", NOT_ALLOWED),
    ((), "fmle-publish", "127.0.0.1", NOT_ALLOWED),
    # allow all
    (rules("allow play all"), "rtmp-play", "10.0.0.1", OK),
    (rules("allow play all"), "flv-play", "10.0.0.1", OK),
    # an allow rule of another method still counts: publishers must be allowed too
    (rules("allow play all"), "fmle-publish", "10.0.0.1", NOT_ALLOWED),
    (rules("allow publish 127.0.0.1"), "rtmp-play", "127.0.0.1", NOT_ALLOWED),
    (rules("allow publish 127.0.0.1"), "fmle-publish", "127.0.0.1", OK),
    (rules("allow publish 127.0.0.1"), "flash-publish", "127.0.0.2", NOT_ALLOWED),
    (rules("allow publish 127.0.0.1"), "haivision-publish", "127.0.0.1", OK),
    # deny wins over allow, whatever the order in the file
    (rules("allow play all", "deny play 127.0.0.1"), "rtmp-play", "127.0.0.1", DENY),
    (rules("deny play 127.0.0.1", "allow play all"), "rtmp-play", "127.0.0.1", DENY),
    (rules("allow play all", "deny play 127.0.0.1"), "rtmp-play", "127.0.0.2", OK),
    # only deny rules: whoever is not denied is accepted
    (rules("deny play 10.0.0.0/8"), "rtmp-play", "127.0.0.1", OK),
    (rules("deny play 10.0.0.0/8"), "rtmp-play", "10.9.8.7", DENY),
    (rules("deny play 10.0.0.0/8"), "fmle-publish", "10.9.8.7", OK),
    (rules("deny publish all"), "fmle-publish", "1.2.3.4", DENY),
    (rules("deny publish all"), "rtmp-play", "1.2.3.4", OK),
    # CIDR allow
    (rules("allow play 127.0.0.0/8"), "rtmp-play", "127.5.6.7", OK),
    (rules("allow play 10.0.0.0/8"), "rtmp-play", "127.0.0.1", NOT_ALLOWED),
    (rules("allow play 192.168.1.0/24"), "flv-play", "192.168.1.200", OK),
    (rules("allow play 192.168.1.0/24"), "flv-play", "192.168.2.1", NOT_ALLOWED),
    (rules("allow play 192.168.1.77/24"), "flv-play", "192.168.1.1", OK),  # host bits ignored
    (rules("allow play 0.0.0.0/1"), "flv-play", "127.0.0.1", OK),
    (rules("allow play 10.1.2.3/32"), "rtmp-play", "10.1.2.3", OK),
    (rules("allow play 10.1.2.3"), "rtmp-play", "10.1.2.4", NOT_ALLOWED),
    # bad CIDRs never match
    (rules("allow play 10.0.0.0/0"), "rtmp-play", "10.0.0.1", NOT_ALLOWED),
    (rules("allow play 10.0.0.0/33"), "rtmp-play", "10.0.0.1", NOT_ALLOWED),
    (rules("allow play 10.0.0.0/x"), "rtmp-play", "10.0.0.1", NOT_ALLOWED),
    (rules("deny play 10.0.0.0/"), "rtmp-play", "10.0.0.1", OK),
    # IPv4-mapped IPv6 clients are their IPv4 address for CIDRs; plain IPv6 only matches exactly
    (rules("allow play 127.0.0.0/8"), "rtmp-play", "::ffff:127.0.0.1", OK),
    (rules("allow play 127.0.0.0/8"), "rtmp-play", "::1", NOT_ALLOWED),
    (rules("allow play ::1"), "rtmp-play", "::1", OK),
    # unknown client kinds match no rule
    (rules("allow play all"), "", "1.1.1.1", NOT_ALLOWED),
    (rules("deny play all"), "", "1.1.1.1", OK),
    # other players and publishers
    (rules("allow play all", "allow publish all"), "rtc-play", "1.1.1.1", OK),
    (rules("allow play all", "allow publish all"), "srt-publish", "1.1.1.1", OK),
    (rules("allow play all", "deny publish all"), "srt-publish", "1.1.1.1", DENY),
]


@pytest.mark.parametrize(("ruleset", "kind", "ip", "code"), CASES)
def test_evaluate(ruleset: tuple[SecurityRule, ...], kind: str, ip: str, code: ErrorCode | None) -> None:
    if code is None:
        evaluate(ruleset, kind, ip)
        return
    with pytest.raises(AccessDeniedError) as e:
        evaluate(ruleset, kind, ip)
    assert e.value.code == code


def test_no_security_block_is_default_deny_1052() -> None:
    with pytest.raises(AccessDeniedError) as e:
        evaluate(None, "rtmp-play", "127.0.0.1")
    assert e.value.code == ErrorCode.SYSTEM_SECURITY


def test_rule_matches_method() -> None:
    r = SecurityRule("allow", "play", "all")
    assert rule_matches(r, "play", "1.2.3.4")
    assert not rule_matches(r, "publish", "1.2.3.4")
    assert not rule_matches(r, "", "1.2.3.4")


@settings(max_examples=300, deadline=None)
@given(
    actions=st.lists(
        st.tuples(
            st.sampled_from(["allow", "deny", "other"]),
            st.sampled_from(["play", "publish", "x", ""]),
            st.one_of(
                st.sampled_from(["all", "127.0.0.1", "10.0.0.0/8", "::1", "/", "1.2.3.4/99", ""]),
                st.text(max_size=20),
            ),
        ),
        max_size=6,
    ),
    kind=st.sampled_from(["rtmp-play", "flv-play", "fmle-publish", "", "weird"]),
    ip=st.one_of(st.ip_addresses().map(str), st.text(max_size=20)),
)
def test_evaluate_only_raises_access_denied(actions: list[tuple[str, str, str]], kind: str, ip: str) -> None:
    rs = tuple(SecurityRule(a, m, e) for a, m, e in actions)
    try:
        evaluate(rs, kind, ip)
    except AccessDeniedError as e:
        assert e.code in (ErrorCode.SYSTEM_SECURITY_DENY, ErrorCode.SYSTEM_SECURITY_ALLOW)


@pytest.mark.parametrize(
    ("page_url", "domain"),
    [
        ("http://www.ossrs.net/players/srs_player.html", "www.ossrs.net"),
        ("https://ossrs.net:8443/x?y=1", "ossrs.net"),
        ("ossrs.net/x", "ossrs.net"),
        ("", ""),
        ("http://127.0.0.1:8080/", "127.0.0.1"),
    ],
)
def test_page_domain(page_url: str, domain: str) -> None:
    assert page_domain(page_url) == domain


@pytest.mark.parametrize(
    ("page_url", "refers", "ok"),
    [
        ("http://www.ossrs.net/player.html", ("ossrs.net",), True),
        ("http://www.ossrs.net/player.html", ("github.com", "ossrs.net"), True),
        ("http://ossrs.net/", ("ossrs.net",), True),
        ("http://www.ossrs.net.evil.com/", ("ossrs.net",), False),
        ("http://evilossrs.net/", ("ossrs.net",), True),  # SRS compat: a plain suffix test
        ("http://a.com.a.com/", ("a.com",), False),  # SRS compat: the first occurrence must end it
        ("", ("ossrs.net",), False),
        ("http://www.ossrs.net/", (), False),
    ],
)
def test_refer_allows(page_url: str, refers: tuple[str, ...], ok: bool) -> None:
    assert refer_allows(page_url, refers) is ok
