"""RTSP credentials, sans-IO: ``Authorization`` Basic/Digest, challenges and the per-connection check.

Ours: SRS (7.0) has no RTSP authentication; its RTSP players are authorised by the ``on_play`` hook
only. With ``rtsp_server { auth { enabled on; realm R; user NAME PASSWORD; } }`` every request but
OPTIONS must carry credentials of a configured user, else it is answered 401 with two challenges
(:meth:`RtspAuth.challenges`): ``Digest realm=.., nonce=..`` (RFC 2617/7616, MD5, no ``qop``
offered: what ffmpeg, GStreamer, live555 and cameras all handle) then ``Basic realm=..``
(RFC 7617). We accept:

- ``Basic base64(user:password)``;
- ``Digest`` with ``algorithm`` absent, ``MD5`` or ``MD5-sess``; ``qop`` absent (RFC 2069 form) or
  ``auth`` (then ``nc`` and ``cnonce`` are required); the realm must be ours and the nonce the
  connection's (one random nonce per connection, valid for its whole life). The ``uri`` field is the
  one the response covers: clients put the full ``rtsp://`` URL there, some only the path, so it is
  not compared with the request line (the nonce already ties the response to this connection).

Malformed headers raise :class:`AuthError` (a :class:`~srs.util.errors.ParseError`) from the
parsers; :meth:`RtspAuth.verify` turns them into a refusal with a reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_plus

from srs.util.errors import ParseError

MAX_HEADER = 4096  # an Authorization header longer than this is refused unread
MAX_FAILURES = 5  # refused attempts on one connection before the server closes it
DEFAULT_REALM = "SRS"


class AuthError(ParseError):
    """An ``Authorization`` header that cannot be read."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """A parsed ``Authorization``: ``scheme`` is ``basic`` or ``digest`` (lower-case)."""

    scheme: str
    username: str
    password: str = ""  # Basic only
    params: Mapping[str, str] = field(default_factory=dict)  # Digest: realm, nonce, uri, response...


def _token_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~")


def parse_params(text: str) -> dict[str, str]:
    """``k=v, k="quoted \\" value", ...`` (RFC 7235 auth-params); names lower-cased.

    A value is a token or a quoted-string (backslash escapes any character); empty items between
    commas are skipped. Anything else raises :class:`AuthError`."""
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            break
        start = i
        while i < n and _token_char(text[i]):
            i += 1
        name = text[start:i].lower()
        while i < n and text[i] in " \t\r\n":
            i += 1
        if not name or i >= n or text[i] != "=":
            raise AuthError(f"bad auth-param at {text[start : start + 40]!r}")
        i += 1
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise AuthError("unterminated quoted-string in auth-param")
                c = text[i]
                if c == "\\" and i + 1 < n:
                    chars.append(text[i + 1])
                    i += 2
                    continue
                i += 1
                if c == '"':
                    break
                chars.append(c)
            value = "".join(chars)
        else:
            start = i
            while i < n and (_token_char(text[i]) or text[i] in "/:=@"):
                i += 1
            value = text[start:i]
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i < n and text[i] != ",":
            raise AuthError(f"bad auth-param separator at {text[i : i + 40]!r}")
        out[name] = value
    return out


def parse_authorization(value: str) -> Credentials:
    """The credentials of an ``Authorization`` header value (``Basic ...`` or ``Digest ...``)."""
    if len(value) > MAX_HEADER:
        raise AuthError("Authorization header too long")
    scheme, _, rest = value.strip().partition(" ")
    scheme = scheme.lower()
    rest = rest.strip()
    if scheme == "basic":
        try:
            raw = base64.b64decode(rest.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError) as e:
            raise AuthError("Basic credentials are not base64") from e
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        user, colon, password = text.partition(":")
        if not colon:
            raise AuthError("Basic credentials without ':'")
        return Credentials("basic", user, password)
    if scheme == "digest":
        params = parse_params(rest)
        if "username" not in params:
            raise AuthError("Digest credentials without username")
        return Credentials("digest", params["username"], params=params)
    raise AuthError(f"unknown Authorization scheme {scheme[:20]!r}")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def digest_response(
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    *,
    qop: str = "",
    nc: str = "",
    cnonce: str = "",
    algorithm: str = "MD5",
) -> str:
    """RFC 2617 section 3.2.2.1 ``request-digest`` (MD5 / MD5-sess; ``qop`` empty or ``auth``)."""
    ha1 = _md5(f"{username}:{realm}:{password}")
    if algorithm.lower() == "md5-sess":
        ha1 = _md5(f"{ha1}:{nonce}:{cnonce}")
    ha2 = _md5(f"{method}:{uri}")
    if qop:
        return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5(f"{ha1}:{nonce}:{ha2}")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenges(realm: str, nonce: str) -> list[tuple[str, str]]:
    """The ``WWW-Authenticate`` headers of a 401: Digest first (the stronger), then Basic."""
    return [
        ("WWW-Authenticate", f"Digest realm={_quoted(realm)}, nonce={_quoted(nonce)}, algorithm=MD5"),
        ("WWW-Authenticate", f"Basic realm={_quoted(realm)}"),
    ]


def basic_header(username: str, password: str) -> str:
    """The ``Authorization`` value a Basic client sends (for tests and tools)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def without_userinfo(uri: str) -> str:
    """``rtsp://user:pass@host/..`` -> ``rtsp://host/..``: credentials a client left in its request line
    never reach the hooks' ``tcUrl`` or the logs (clients normally strip them and answer the challenge)."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    authority = rest[:end]
    if "@" not in authority:
        return uri
    return scheme + sep + authority.rpartition("@")[2] + rest[end:]


def param_with_user(param: str, user: str) -> str:
    """The request's ``?query`` with ``user=<name>`` as its last item (a client's own ``user=`` removed).

    What the ``on_play``/``on_publish`` hooks get as ``param`` once the user is authenticated, so a
    hook can allow or deny per user without the client being able to claim another name."""
    query, hash_, fragment = param.lstrip("?").partition("#")
    kept = [item for item in query.split("&") if item and unquote_plus(item.partition("=")[0]) != "user"]
    out = "?" + "".join(item + "&" for item in kept) + "user=" + quote(user, safe="", errors="surrogatepass")
    return out + (hash_ + fragment if hash_ else "")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What :meth:`RtspAuth.verify` decided: ``user`` when allowed, else ``reason``."""

    user: str | None
    scheme: str = ""
    reason: str = ""


class RtspAuth:
    """The credential check of one RTSP connection: its nonce, the users, the refused attempts."""

    __slots__ = ("failures", "nonce", "realm", "scheme", "user", "users")

    def __init__(self, realm: str, users: Mapping[str, str], nonce: str | None = None) -> None:
        self.realm = realm
        self.users = dict(users)
        self.nonce = nonce or secrets.token_hex(16)
        self.failures = 0
        self.user = ""  # the last authenticated user
        self.scheme = ""

    def challenges(self) -> list[tuple[str, str]]:
        return challenges(self.realm, self.nonce)

    @property
    def exhausted(self) -> bool:
        """Too many refused attempts: the connection should be closed."""
        return self.failures >= MAX_FAILURES

    def verify(self, method: str, header: str | None) -> Verdict:
        """Check the ``Authorization`` of a ``method`` request; a refusal counts as a failure unless
        no header was sent (a client's first try, before it saw our challenge). A connection keeps
        its first user: valid credentials of another user later are refused."""
        if not header:
            return Verdict(None, reason="no credentials")
        verdict = self._verify(method, header)
        if verdict.user is not None and self.user and verdict.user != self.user:
            verdict = Verdict(None, verdict.scheme, f"user {verdict.user!r} after {self.user!r}")
        if verdict.user is None:
            self.failures += 1
        else:
            self.user, self.scheme = verdict.user, verdict.scheme
        return verdict

    def _verify(self, method: str, header: str) -> Verdict:
        try:
            cred = parse_authorization(header)
        except AuthError as e:
            return Verdict(None, reason=str(e))
        password = self.users.get(cred.username)
        if password is None:
            return Verdict(None, cred.scheme, f"unknown user {cred.username[:64]!r}")
        if cred.scheme == "basic":
            ok = hmac.compare_digest(_bytes(cred.password), _bytes(password))
            return Verdict(cred.username, "basic") if ok else Verdict(None, "basic", "wrong password")
        p = cred.params
        if p.get("realm") != self.realm:
            return Verdict(None, "digest", "wrong realm")
        if p.get("nonce") != self.nonce:
            return Verdict(None, "digest", "wrong nonce")
        algorithm = p.get("algorithm", "MD5")
        if algorithm.lower() not in ("md5", "md5-sess"):
            return Verdict(None, "digest", f"unsupported algorithm {algorithm[:20]!r}")
        qop = p.get("qop", "")
        if qop not in ("", "auth"):
            return Verdict(None, "digest", f"unsupported qop {qop[:20]!r}")
        if (qop or algorithm.lower() == "md5-sess") and not p.get("cnonce"):
            return Verdict(None, "digest", "cnonce missing")
        if qop and not p.get("nc"):
            return Verdict(None, "digest", "nc missing")
        expected = digest_response(
            cred.username,
            self.realm,
            password,
            method,
            p.get("uri", ""),
            self.nonce,
            qop=qop,
            nc=p.get("nc", ""),
            cnonce=p.get("cnonce", ""),
            algorithm=algorithm,
        )
        if hmac.compare_digest(_bytes(expected), _bytes(p.get("response", "").lower())):
            return Verdict(cred.username, "digest")
        return Verdict(None, "digest", "wrong password (digest mismatch)")


__all__ = [
    "AuthError",
    "Credentials",
    "RtspAuth",
    "Verdict",
    "basic_header",
    "challenges",
    "digest_response",
    "param_with_user",
    "parse_authorization",
    "parse_params",
    "without_userinfo",
]
