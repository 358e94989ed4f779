"""ICE-lite on one UDP port, sans-IO: what arrives is classified (RFC 7983), STUN binding requests
are checked and answered, and sessions are found by ufrag, then by address.

SRS's server is ICE-lite: it never sends checks, it answers the browser's (RFC 8445 2.5). A binding
request carries ``USERNAME = <our ufrag>:<their ufrag>``, a MESSAGE-INTEGRITY keyed by our ICE
password and a FINGERPRINT; the success response has XOR-MAPPED-ADDRESS (the request's source),
MESSAGE-INTEGRITY and FINGERPRINT. ``USE-CANDIDATE`` nominates the address: the session's media then
goes there, and a session whose client changes address (a new NAT binding, Wi-Fi to 4G) keeps
going after its next check from the new address. A session without a binding request for
``stun_timeout`` (30 s in SRS) is over: :meth:`IceSessions.expire`. Lookups are O(1) by ufrag and by
address, so thousands of sessions cost nothing per packet.

The STUN message codec is aioice's ``stun`` module (DESIGN.md); everything it raises becomes our
:class:`~srs.util.errors.ParseError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import IntEnum

from aioice import stun

from srs.util.errors import ParseError

Address = tuple[str, int]


class PacketKind(IntEnum):
    STUN = 0
    DTLS = 1
    RTP = 2
    RTCP = 3
    UNKNOWN = 4


def classify(data: bytes) -> PacketKind:
    """RFC 7983 (and RFC 5761 for RTCP): the first byte tells STUN (0-3), DTLS (20-63) and RTP/RTCP
    (128-191); RTCP has a payload type of 192-223 (marker bit included: 64-95 without it)."""
    if not data:
        return PacketKind.UNKNOWN
    b = data[0]
    if b <= 3:
        return PacketKind.STUN
    if 20 <= b <= 63:
        return PacketKind.DTLS
    if 128 <= b <= 191:
        if len(data) >= 2 and 192 <= data[1] <= 223:
            return PacketKind.RTCP
        return PacketKind.RTP
    return PacketKind.UNKNOWN


@dataclass(frozen=True, slots=True)
class BindingRequest:
    transaction_id: bytes
    local_ufrag: str
    remote_ufrag: str
    use_candidate: bool
    priority: int | None
    controlling: bool  # ICE-CONTROLLING present (a browser talking to an ICE-lite server always is)


_PARSE_ERRORS = (ValueError, struct.error, IndexError, KeyError, UnicodeDecodeError, TypeError)


def parse_binding(data: bytes, password_of: Callable[[str], str | None]) -> BindingRequest:
    """Check a STUN binding request: the fingerprint, our ufrag (``password_of`` gives its ICE
    password, or None for a ufrag we do not know) and the message integrity."""
    try:
        msg = stun.parse_message(bytes(data))
    except _PARSE_ERRORS as e:
        raise ParseError(f"stun: {e}") from None
    if msg.message_method != stun.Method.BINDING or msg.message_class != stun.Class.REQUEST:
        raise ParseError(f"stun: not a binding request ({msg.message_method.name} {msg.message_class.name})")
    if "FINGERPRINT" not in msg.attributes:
        raise ParseError("stun: binding request without FINGERPRINT")
    username = msg.attributes.get("USERNAME")
    if not isinstance(username, str) or ":" not in username:
        raise ParseError("stun: binding request without USERNAME local:remote")
    local, _, remote = username.partition(":")
    pwd = password_of(local)
    if pwd is None:
        raise ParseError(f"stun: unknown ufrag {local!r}")
    if not msg.check_message_integrity(pwd.encode()):
        raise ParseError(f"stun: bad MESSAGE-INTEGRITY for ufrag {local!r}")
    priority = msg.attributes.get("PRIORITY")
    return BindingRequest(
        transaction_id=msg.transaction_id,
        local_ufrag=local,
        remote_ufrag=remote,
        use_candidate="USE-CANDIDATE" in msg.attributes,
        priority=priority if isinstance(priority, int) else None,
        controlling="ICE-CONTROLLING" in msg.attributes,
    )


def binding_success(req: BindingRequest, source: Address, password: str) -> bytes:
    """The success response to ``req``, received from ``source``."""
    msg = stun.Message(
        message_method=stun.Method.BINDING,
        message_class=stun.Class.RESPONSE,
        transaction_id=req.transaction_id,
        attributes={"XOR-MAPPED-ADDRESS": source},
    )
    msg.add_message_integrity(password.encode())
    msg.add_fingerprint()
    return bytes(msg)


@dataclass(slots=True)
class IceSession:
    """What ICE knows of one peer connection; ``owner`` is the adapter's object."""

    local_ufrag: str
    local_pwd: str
    remote_ufrag: str
    owner: Hashable = None
    address: Address | None = None  # the nominated (or latest checked) address
    nominated: bool = False
    last_stun_s: float = 0.0
    addresses: set[Address] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Answered:
    """A binding request was answered: send ``response`` to ``source``."""

    session: IceSession
    response: bytes
    source: Address
    nominated_now: bool  # the first nomination, or a move to a new address


class IceSessions:
    """Every session of the UDP port, by local ufrag and by the addresses their checks came from."""

    def __init__(self) -> None:
        self._by_ufrag: dict[str, IceSession] = {}
        self._by_address: dict[Address, IceSession] = {}

    def __len__(self) -> int:
        return len(self._by_ufrag)

    def add(self, session: IceSession, now_s: float) -> None:
        if session.local_ufrag in self._by_ufrag:
            raise ValueError(f"ufrag {session.local_ufrag!r} is taken")
        session.last_stun_s = now_s
        self._by_ufrag[session.local_ufrag] = session

    def by_ufrag(self, ufrag: str) -> IceSession | None:
        return self._by_ufrag.get(ufrag)

    def by_address(self, address: Address) -> IceSession | None:
        """The session media from ``address`` belongs to (DTLS, SRTP): only addresses that passed
        a binding check are known."""
        return self._by_address.get(address)

    def remove(self, session: IceSession) -> None:
        if self._by_ufrag.get(session.local_ufrag) is session:
            del self._by_ufrag[session.local_ufrag]
        for a in session.addresses:
            if self._by_address.get(a) is session:
                del self._by_address[a]
        session.addresses.clear()

    def on_stun(self, data: bytes, source: Address, now_s: float) -> Answered:
        """A STUN datagram from ``source``: a checked binding request is answered and refreshes
        the session (consent freshness); raises ParseError for anything else."""

        def password_of(ufrag: str) -> str | None:
            s = self._by_ufrag.get(ufrag)
            return s.local_pwd if s is not None else None

        req = parse_binding(data, password_of)
        session = self._by_ufrag[req.local_ufrag]
        if session.remote_ufrag and req.remote_ufrag != session.remote_ufrag:
            raise ParseError(f"stun: remote ufrag {req.remote_ufrag!r} is not the offer's")
        session.last_stun_s = now_s
        if source not in session.addresses:
            other = self._by_address.get(source)
            if other is not None and other is not session:  # the address moved to another session
                other.addresses.discard(source)
            session.addresses.add(source)
            self._by_address[source] = session
        moved = False
        if req.use_candidate and (not session.nominated or session.address != source):
            moved = True
            session.nominated = True
            session.address = source
        elif session.address is None:
            session.address = source
        return Answered(session, binding_success(req, source, session.local_pwd), source, moved)

    def expire(self, now_s: float, timeout_s: float) -> list[IceSession]:
        """Sessions without a binding request for ``timeout_s`` (SRS ``stun_timeout``): removed."""
        gone = [s for s in self._by_ufrag.values() if now_s - s.last_stun_s > timeout_s]
        for s in gone:
            self.remove(s)
        return gone
