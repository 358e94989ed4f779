"""SRTP/SRTCP with keys from our DTLS handshake: both directions, both profiles; tampered,
replayed and short packets are refused with ParseError and the session goes on."""

from __future__ import annotations

import pytest

from srs.protocol.rtc.dtls import SrtpKeys
from srs.protocol.rtc.srtp import PlainSession, SrtpSession
from srs.util.errors import ParseError


def rtp(seq: int) -> bytes:
    return (
        bytes([0x80, 96])
        + seq.to_bytes(2, "big")
        + (seq * 3000).to_bytes(4, "big")
        + b"\x00\x00\x12\x34"
        + b"x" * 100
    )


SR = bytes([0x80, 200, 0, 6]) + b"\x00\x00\x12\x34" + bytes(20)  # an empty sender report


@pytest.mark.parametrize(("profile", "size"), [("SRTP_AEAD_AES_128_GCM", 28), ("SRTP_AES128_CM_SHA1_80", 30)])
def test_both_directions_and_refusals(profile: str, size: int) -> None:
    ka, kb = bytes(range(size)), bytes(range(100, 100 + size))  # key + salt of each side
    server = SrtpSession(SrtpKeys(profile, ka, kb))
    client = SrtpSession(SrtpKeys(profile, kb, ka))
    for seq in (1, 2, 65535, 0):  # across the wrap
        sealed = server.protect_rtp(rtp(seq))
        assert sealed != rtp(seq) and client.unprotect_rtp(sealed) == rtp(seq)
    assert server.unprotect_rtcp(client.protect_rtcp(SR)) == SR
    sealed = server.protect_rtp(rtp(7))
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(ParseError, match="srtp"):
        client.unprotect_rtp(tampered)
    assert client.unprotect_rtp(sealed) == rtp(7)  # the genuine one still passes
    with pytest.raises(ParseError, match="srtp"):
        client.unprotect_rtp(sealed)  # a replay
    with pytest.raises(ParseError):
        client.unprotect_rtp(b"\x80\x60\x00")
    with pytest.raises(ParseError, match="srtcp"):
        client.unprotect_rtcp(SR)  # not protected
    # A NACKed packet is protected again as it was (allow_repeat_tx), and a late one passes.
    assert client.unprotect_rtp(server.protect_rtp(rtp(3))) == rtp(3)


def test_plain_session_passes_through() -> None:
    p = PlainSession()
    assert p.protect_rtp(rtp(1)) == rtp(1) == p.unprotect_rtp(rtp(1)) and p.unprotect_rtcp(SR) == SR
