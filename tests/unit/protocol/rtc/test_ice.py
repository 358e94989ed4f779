"""ICE-lite: RFC 7983 demux, STUN binding requests made by aioice's codec checked and answered,
sessions found by ufrag and by address, nomination, address change, expiry."""

from __future__ import annotations

import pytest
from aioice import stun

from srs.protocol.rtc.ice import (
    IceSession,
    IceSessions,
    PacketKind,
    binding_success,
    classify,
    parse_binding,
)
from srs.util.errors import ParseError

PWD = "s" * 32
CLIENT = ("192.0.2.7", 50000)


def request(
    username: str = "srvufrag:cliufrag",
    pwd: str = PWD,
    *,
    use_candidate: bool = False,
    integrity: bool = True,
    fingerprint: bool = True,
    method: stun.Method = stun.Method.BINDING,
    klass: stun.Class = stun.Class.REQUEST,
) -> bytes:
    attrs: dict[str, object] = {"USERNAME": username, "PRIORITY": 1853824767, "ICE-CONTROLLING": 0x1234}
    if use_candidate:
        attrs["USE-CANDIDATE"] = None
    msg = stun.Message(message_method=method, message_class=klass, attributes=attrs)
    if integrity:
        msg.add_message_integrity(pwd.encode())
    else:
        msg.add_fingerprint()
    if not fingerprint:
        msg.attributes.pop("FINGERPRINT", None)  # aioice adds it with the integrity
    return bytes(msg)


@pytest.mark.parametrize(
    ("first", "kind"),
    [
        (b"\x00\x01", PacketKind.STUN),
        (b"\x01\x01", PacketKind.STUN),
        (b"\x16\xfe\xfd", PacketKind.DTLS),  # handshake record, DTLS 1.2
        (b"\x17\xfe\xfd", PacketKind.DTLS),
        (b"\x80\x60", PacketKind.RTP),  # PT 96
        (b"\x80\xe0", PacketKind.RTP),  # PT 96 with the marker bit
        (b"\x80\xc8", PacketKind.RTCP),  # SR (200)
        (b"\x81\xcd", PacketKind.RTCP),  # RTPFB (205)
        (b"\x80\xce", PacketKind.RTCP),  # PSFB (206)
        (b"\x40", PacketKind.UNKNOWN),
        (b"", PacketKind.UNKNOWN),
        (b"\xff", PacketKind.UNKNOWN),
    ],
)
def test_rfc7983_demux(first: bytes, kind: PacketKind) -> None:
    assert classify(first + bytes(10) if first else b"") == kind


def test_a_binding_request_is_checked_and_the_answer_reads_back_in_aioice() -> None:
    req = parse_binding(request(use_candidate=True), {"srvufrag": PWD}.get)
    assert (req.local_ufrag, req.remote_ufrag, req.use_candidate, req.controlling) == (
        "srvufrag",
        "cliufrag",
        True,
        True,
    )
    assert req.priority == 1853824767
    answer = stun.parse_message(binding_success(req, CLIENT, PWD))
    assert answer.message_class == stun.Class.RESPONSE and answer.transaction_id == req.transaction_id
    assert answer.attributes["XOR-MAPPED-ADDRESS"] == CLIENT
    assert answer.check_message_integrity(PWD.encode()) and "FINGERPRINT" in answer.attributes
    v6 = stun.parse_message(binding_success(req, ("2001:db8::1", 4444), PWD))
    assert v6.attributes["XOR-MAPPED-ADDRESS"] == ("2001:db8::1", 4444)


# Each case with an id: the requests carry random transaction ids, and every xdist worker must
# collect the same test names.
@pytest.mark.parametrize(
    ("data", "why"),
    [
        pytest.param(request(pwd="x" * 32), "MESSAGE-INTEGRITY", id="wrong-password"),
        pytest.param(request(integrity=False), "MESSAGE-INTEGRITY", id="no-integrity"),
        pytest.param(request(fingerprint=False), "FINGERPRINT", id="no-fingerprint"),
        pytest.param(request(username="other:cliufrag"), "unknown ufrag", id="unknown-ufrag"),
        pytest.param(request(username="nocolon"), "USERNAME", id="bad-username"),
        pytest.param(request(klass=stun.Class.INDICATION), "not a binding request", id="indication"),
        pytest.param(request(method=stun.Method.ALLOCATE), "not a binding request", id="allocate"),
        pytest.param(request()[:-1], "stun", id="truncated"),
        pytest.param(b"\x00\x01\x00\x00", "stun", id="header-only"),
    ],
)
def test_bad_requests_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        parse_binding(data, {"srvufrag": PWD}.get)


def test_sessions_by_ufrag_then_by_address_nomination_and_a_moving_client() -> None:
    table = IceSessions()
    s = IceSession("srvufrag", PWD, "cliufrag", owner="pc1")
    table.add(s, now_s=0)
    with pytest.raises(ValueError):
        table.add(IceSession("srvufrag", PWD, "x"), now_s=0)
    assert table.by_address(CLIENT) is None  # media before a check has no session
    a = table.on_stun(request(), CLIENT, now_s=1)
    assert a.session is s and not a.nominated_now and s.address == CLIENT and table.by_address(CLIENT) is s
    a = table.on_stun(request(use_candidate=True), CLIENT, now_s=2)
    assert a.nominated_now and s.nominated
    assert not table.on_stun(request(use_candidate=True), CLIENT, now_s=3).nominated_now  # consent
    moved = ("198.51.100.9", 61000)  # a new NAT binding: the session follows its next check
    a = table.on_stun(request(use_candidate=True), moved, now_s=4)
    assert a.nominated_now and s.address == moved and table.by_address(moved) is s
    with pytest.raises(ParseError, match="remote ufrag"):
        table.on_stun(request(username="srvufrag:intruder"), ("203.0.113.1", 1), now_s=5)
    assert table.expire(now_s=30, timeout_s=30) == []  # its last check was at 4 s
    assert table.expire(now_s=34.5, timeout_s=30) == [s]
    assert len(table) == 0 and table.by_address(CLIENT) is None and table.by_address(moved) is None


def test_thousands_of_sessions_are_found_directly() -> None:
    table = IceSessions()
    for i in range(5000):
        table.add(IceSession(f"u{i:07d}", PWD, f"c{i}"), now_s=0)
    a = table.on_stun(request(username="u0004321:c4321"), CLIENT, now_s=1)
    assert a.session.local_ufrag == "u0004321" and len(table) == 5000
