"""RTSP credentials (ours): Authorization parsing, RFC 2617/7616 digests, challenges, the per-connection
check and the ``user=`` param the hooks get."""

from __future__ import annotations

import pytest

from srs.protocol.request import parse_rtmp
from srs.protocol.rtsp.auth import (
    MAX_FAILURES,
    AuthError,
    Credentials,
    RtspAuth,
    basic_header,
    challenges,
    digest_response,
    param_with_user,
    parse_authorization,
    parse_params,
    without_userinfo,
)
from srs.protocol.rtsp.message import RtspMessage, RtspParser, serialize_response
from srs.server.rtsp import request_of
from srs.server.rtsp_auth import with_user

# RFC 2617 section 3.5 (qop=auth) and RFC 7616 section 3.9.1 (MD5): published request-digests.
RFC_2617 = {
    "username": "Mufasa",
    "realm": "testrealm@host.com",
    "password": "Circle Of Life",
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
    "qop": "auth",
    "nc": "00000001",
    "cnonce": "0a4f113b",
    "response": "6629fae49393a05397450978507c4ef1",
}
RFC_7616 = {
    "username": "Mufasa",
    "realm": "http-auth@example.org",
    "password": "Circle of Life",
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "qop": "auth",
    "nc": "00000001",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    "response": "8ca523f5e9506fed4657c9700eebdbec",
}


@pytest.mark.parametrize("v", [RFC_2617, RFC_7616], ids=["rfc2617", "rfc7616"])
def test_rfc_worked_examples(v: dict[str, str]) -> None:
    got = digest_response(
        v["username"], v["realm"], v["password"], v["method"], v["uri"], v["nonce"],
        qop=v["qop"], nc=v["nc"], cnonce=v["cnonce"],
    )  # fmt: skip
    assert got == v["response"]


def test_rfc2617_header_verifies() -> None:
    """The RFC's whole Authorization header (with opaque) against a server holding its nonce."""
    header = (
        'Digest username="Mufasa",\r\n realm="testrealm@host.com",'
        ' nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001,'
        ' cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1",'
        ' opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    auth = RtspAuth("testrealm@host.com", {"Mufasa": "Circle Of Life"}, nonce=RFC_2617["nonce"])
    v = auth.verify("GET", header)
    assert (v.user, v.scheme, auth.user, auth.failures) == ("Mufasa", "digest", "Mufasa", 0)
    # the same response for another method does not match
    assert (
        RtspAuth("testrealm@host.com", {"Mufasa": "Circle Of Life"}, RFC_2617["nonce"])
        .verify("POST", header)
        .reason.startswith("wrong password")
    )


def test_digest_without_qop_is_the_rfc2069_form() -> None:
    """response = MD5(HA1:nonce:HA2), what ffmpeg sends when no qop is offered."""
    from hashlib import md5

    def h(s: str) -> str:
        return md5(s.encode()).hexdigest()

    ha1 = h("Mufasa:testrealm@host.com:Circle Of Life")
    assert ha1 == "939e7578ed9e3c518a452acee763bce9"  # RFC 2617 section 3.5's HA1
    ha2 = h("GET:/dir/index.html")
    want = h(f"{ha1}:{RFC_2617['nonce']}:{ha2}")
    got = digest_response(
        "Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html", RFC_2617["nonce"]
    )
    assert got == want


def test_md5_sess() -> None:
    from hashlib import md5

    def h(s: str) -> str:
        return md5(s.encode()).hexdigest()

    ha1 = h(h("u:r:p") + ":n:c")
    want = h(f"{ha1}:n:00000001:c:auth:{h('DESCRIBE:rtsp://h/live/x')}")
    got = digest_response("u", "r", "p", "DESCRIBE", "rtsp://h/live/x", "n", qop="auth", nc="00000001", cnonce="c",
                          algorithm="MD5-sess")  # fmt: skip
    assert got == want


PARAMS = [
    ("a=b", {"a": "b"}),
    ('A="x y", b=tok', {"a": "x y", "b": "tok"}),
    ('  , a="q\\"uote" ,, b = "" ,', {"a": 'q"uote', "b": ""}),
    ('uri="rtsp://u@h:554/live/x?a=b&c=d"', {"uri": "rtsp://u@h:554/live/x?a=b&c=d"}),
    ("nonce=abc/def=", {"nonce": "abc/def="}),
    ("", {}),
]


@pytest.mark.parametrize(("text", "want"), PARAMS)
def test_parse_params(text: str, want: dict[str, str]) -> None:
    assert parse_params(text) == want


@pytest.mark.parametrize("text", ["a", "=b", 'a="open', "a=b c=d", "a=b;c=d", '"a"=b'])
def test_parse_params_refuses(text: str) -> None:
    with pytest.raises(AuthError):
        parse_params(text)


AUTHORIZATION = [
    ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", Credentials("basic", "Aladdin", "open sesame")),  # RFC 7617
    ("basic dTo=", Credentials("basic", "u", "")),
    ("BASIC dTpwOnc=", Credentials("basic", "u", "p:w")),  # the password may hold ':'
    (
        'Digest username="cam1", realm="SRS", nonce="n", uri="rtsp://h/live/x", response="r"',
        Credentials(
            "digest",
            "cam1",
            params={
                "username": "cam1",
                "realm": "SRS",
                "nonce": "n",
                "uri": "rtsp://h/live/x",
                "response": "r",
            },
        ),
    ),
]


@pytest.mark.parametrize(("value", "want"), AUTHORIZATION)
def test_parse_authorization(value: str, want: Credentials) -> None:
    assert parse_authorization(value) == want


@pytest.mark.parametrize(
    "value",
    ["Basic", "Basic !!!", "Basic dXNlcg==", "Bearer abc", "Digest realm=x", "Digest a", "x" * 5000],
)
def test_parse_authorization_refuses(value: str) -> None:
    with pytest.raises(AuthError):
        parse_authorization(value)


def test_challenges_in_a_401_both_headers() -> None:
    out = serialize_response(401, 7, challenges('S"R', "abc"))
    text = out.decode()
    assert text.startswith("RTSP/1.0 401 Unauthorized\r\nCSeq: 7\r\n")
    assert 'WWW-Authenticate: Digest realm="S\\"R", nonce="abc", algorithm=MD5\r\n' in text
    assert 'WWW-Authenticate: Basic realm="S\\"R"\r\n' in text
    assert text.index("Digest") < text.index("Basic")
    (msg,) = RtspParser().feed(out)
    assert isinstance(msg, RtspMessage) and msg.status == 401


def _digest(auth: RtspAuth, user: str, password: str, method: str, uri: str, **extra: str) -> str:
    qop, nc, cnonce = extra.get("qop", ""), extra.get("nc", ""), extra.get("cnonce", "")
    realm, nonce = extra.get("realm", auth.realm), extra.get("nonce", auth.nonce)
    r = digest_response(user, realm, password, method, uri, nonce, qop=qop, nc=nc, cnonce=cnonce)
    tail = f', qop={qop}, nc={nc}, cnonce="{cnonce}"' if qop else ""
    alg = f", algorithm={extra['algorithm']}" if "algorithm" in extra else ""
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", response="{r}"{tail}{alg}'
    )


USERS = {"admin": "secret", "cam1": "pass1"}
URL = "rtsp://127.0.0.1:8554/live/x"

VERIFY = [
    # (name, header maker, method, user or None, reason fragment)
    ("basic ok", lambda a: basic_header("admin", "secret"), "DESCRIBE", "admin", ""),
    ("basic wrong", lambda a: basic_header("admin", "nope"), "DESCRIBE", None, "wrong password"),
    ("basic unknown user", lambda a: basic_header("root", "secret"), "DESCRIBE", None, "unknown user"),
    ("digest ffmpeg form", lambda a: _digest(a, "cam1", "pass1", "DESCRIBE", URL), "DESCRIBE", "cam1", ""),
    ("digest path uri", lambda a: _digest(a, "cam1", "pass1", "SETUP", "/live/x/trackID=0"), "SETUP", "cam1", ""),
    (
        "digest qop=auth",
        lambda a: _digest(a, "cam1", "pass1", "PLAY", URL, qop="auth", nc="00000001", cnonce="abc"),
        "PLAY", "cam1", "",
    ),
    ("digest MD5 named", lambda a: _digest(a, "cam1", "pass1", "PLAY", URL, algorithm="MD5"), "PLAY", "cam1", ""),
    ("digest wrong password", lambda a: _digest(a, "cam1", "x", "DESCRIBE", URL), "DESCRIBE", None, "wrong password"),
    ("digest other method", lambda a: _digest(a, "cam1", "pass1", "DESCRIBE", URL), "PLAY", None, "wrong password"),
    ("digest other nonce", lambda a: _digest(a, "cam1", "pass1", "PLAY", URL, nonce="old"), "PLAY", None, "nonce"),
    ("digest other realm", lambda a: _digest(a, "cam1", "pass1", "PLAY", URL, realm="X"), "PLAY", None, "realm"),
    ("digest sha-256", lambda a: _digest(a, "cam1", "pass1", "PLAY", URL, algorithm="SHA-256"), "PLAY", None,
     "algorithm"),
    ("digest qop without cnonce", lambda a: _digest(a, "cam1", "pass1", "PLAY", URL, qop="auth", nc="1"), "PLAY",
     None, "cnonce"),
    ("digest qop without nc", lambda a: _digest(a, "cam1", "pass1", "PLAY", URL, qop="auth", cnonce="c"), "PLAY",
     None, "nc missing"),
    ("digest auth-int", lambda a: _digest(a, "cam1", "pass1", "PLAY", URL, qop="auth-int", nc="1", cnonce="c"),
     "PLAY", None, "qop"),
    ("garbage", lambda a: "Digest ===", "PLAY", None, "auth-param"),
    ("other scheme", lambda a: "Bearer t", "PLAY", None, "scheme"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "method", "user", "reason"), VERIFY, ids=[v[0] for v in VERIFY])
def test_verify(name: str, make: object, method: str, user: str | None, reason: str) -> None:
    auth = RtspAuth("SRS", USERS)
    v = auth.verify(method, make(auth))  # type: ignore[operator]
    assert v.user == user
    assert reason in v.reason
    assert auth.failures == (0 if user else 1)
    assert auth.user == (user or "")


def test_no_credentials_is_not_a_failure_and_failures_exhaust() -> None:
    auth = RtspAuth("SRS", USERS)
    assert auth.verify("DESCRIBE", None).reason == "no credentials"
    assert auth.verify("DESCRIBE", "").user is None and auth.failures == 0
    for i in range(MAX_FAILURES):
        assert not auth.exhausted
        auth.verify("DESCRIBE", basic_header("admin", f"bad{i}"))
    assert auth.exhausted and auth.failures == MAX_FAILURES


def test_nonce_per_connection_and_first_user_kept() -> None:
    a, b = RtspAuth("SRS", USERS), RtspAuth("SRS", USERS)
    assert a.nonce != b.nonce and len(a.nonce) == 32
    assert b.verify("DESCRIBE", _digest(a, "cam1", "pass1", "DESCRIBE", URL)).reason == "wrong nonce"
    assert a.verify("DESCRIBE", _digest(a, "cam1", "pass1", "DESCRIBE", URL)).user == "cam1"
    assert a.verify("SETUP", basic_header("cam1", "pass1")).user == "cam1"  # same user, other scheme
    v = a.verify("PLAY", basic_header("admin", "secret"))
    assert v.user is None and "after" in v.reason and a.user == "cam1"


PARAM_CASES = [
    ("", "cam1", "?user=cam1"),
    ("?a=b", "cam1", "?a=b&user=cam1"),
    ("?user=admin&a=b+c", "cam1", "?a=b+c&user=cam1"),  # the client's claim is dropped, the rest kept as is
    ("?us%65r=admin", "cam1", "?user=cam1"),
    ("?a=1#frag", "cam1", "?a=1&user=cam1#frag"),
    ("?a=1", "a b&c", "?a=1&user=a%20b%26c"),
]


@pytest.mark.parametrize(("param", "user", "want"), PARAM_CASES)
def test_param_with_user(param: str, user: str, want: str) -> None:
    assert param_with_user(param, user) == want


def test_with_user_on_a_request() -> None:
    req = parse_rtmp("rtsp://127.0.0.1:8554/live", "x?token=t")
    assert req.param == "?token=t"
    assert with_user(req, None) is req
    auth = RtspAuth("SRS", USERS)
    assert with_user(req, auth) is req  # nobody authenticated yet
    auth.verify("DESCRIBE", basic_header("cam1", "pass1"))
    got = with_user(req, auth)
    assert got.param == "?token=t&user=cam1" and got.query()["user"] == "cam1"
    assert got.stream_url == req.stream_url


@pytest.mark.parametrize(
    ("uri", "want"),
    [
        ("rtsp://u:p@h:554/live/x?a=b", "rtsp://h:554/live/x?a=b"),
        ("rtsp://u:p@w@h/live/x", "rtsp://h/live/x"),
        ("rtsp://h/live/x?mail=a@b", "rtsp://h/live/x?mail=a@b"),
        ("rtsp://u@h", "rtsp://h"),
        ("rtsp://h?x=a@b", "rtsp://h?x=a@b"),
        ("/live/x", "/live/x"),
    ],
)
def test_without_userinfo(uri: str, want: str) -> None:
    assert without_userinfo(uri) == want


def test_request_line_credentials_do_not_reach_tcurl() -> None:
    req = request_of("rtsp://cam1:pass1@127.0.0.1:8554/live/x?a=1", "1.2.3.4")
    assert req.tc_url == "rtsp://127.0.0.1:8554/live" and "pass1" not in repr(req)
