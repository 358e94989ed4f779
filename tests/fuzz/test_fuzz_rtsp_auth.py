"""RTSP ``Authorization`` headers are untrusted: only srs.util.errors types escape the parsers, and the
per-connection check never raises (a refusal is a Verdict)."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from srs.protocol.rtsp.auth import (
    RtspAuth,
    basic_header,
    digest_response,
    param_with_user,
    parse_authorization,
    parse_params,
    without_userinfo,
)
from srs.util.errors import SrsError

EXAMPLES = int(os.environ.get("SRS_FUZZ_EXAMPLES", "300"))
NONCE = "0123456789abcdef0123456789abcdef"
USERS = {"admin": "secret", "c\u00e9": "p\u00e4ss"}

PIECES = st.sampled_from(
    [
        "Digest ",
        "Basic ",
        "basic ",
        "digest",
        'username="admin"',
        "username=c\u00e9",
        'realm="SRS"',
        f'nonce="{NONCE}"',
        "nonce=x",
        'uri="rtsp://127.0.0.1/live/x"',
        "response=00112233445566778899aabbccddeeff",
        f'response="{digest_response("admin", "SRS", "secret", "PLAY", "/x", NONCE)}"',
        "qop=auth",
        "qop=auth-int",
        "nc=00000001",
        'cnonce="c"',
        "algorithm=MD5-sess",
        "algorithm=SHA-256",
        ", ",
        ",",
        "=",
        '"',
        "\\",
        "\r\n ",
        basic_header("admin", "secret").split(" ")[1],
        "YWRtaW4=",
        "====",
    ]
)
HEADER = st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=14).map("".join)


@settings(max_examples=EXAMPLES, deadline=None)
@given(HEADER)
def test_parsers_raise_only_srs_errors(value: str) -> None:
    try:
        parse_authorization(value)
    except SrsError:
        pass
    try:
        parse_params(value)
    except SrsError:
        pass


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["DESCRIBE", "SETUP", "PLAY", ""]), st.one_of(st.none(), HEADER)),
                max_size=8))  # fmt: skip
def test_verify_never_raises(steps: list[tuple[str, str | None]]) -> None:
    auth = RtspAuth("SRS", USERS, nonce=NONCE)
    for method, header in steps:
        v = auth.verify(method, header)
        assert (v.user is None) == bool(v.reason)
        assert v.user is None or v.user in USERS
    assert auth.failures <= len(steps)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=40), st.text(min_size=1, max_size=10))
def test_param_with_user_always_ends_with_the_user(param: str, user: str) -> None:
    out = param_with_user(param, user)
    assert out.startswith("?")
    assert "user=" in out.split("#", 1)[0]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("rtsp:/@?#hu.x")), max_size=30) | st.text(max_size=30))
def test_without_userinfo_keeps_no_at_in_the_authority(uri: str) -> None:
    out = without_userinfo(uri)
    _, sep, rest = out.partition("://")
    if sep:
        authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        assert "@" not in authority
