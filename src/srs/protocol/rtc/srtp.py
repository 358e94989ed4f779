"""SRTP and SRTCP (RFC 3711, RFC 7714) for one WebRTC peer connection, over pylibsrtp.

:class:`SrtpSession` protects what we send with our key and unprotects what the peer sends with its
key, both from the DTLS handshake (:class:`~srs.protocol.rtc.dtls.SrtpKeys`). A packet that does
not authenticate, is replayed or is too short is refused with :class:`~srs.util.errors.ParseError`
(the caller drops it and counts it); the session goes on. ``encrypt off`` (SRS's plaintext RTP for
debugging) is :class:`PlainSession` with the same methods.
"""

from __future__ import annotations

import pylibsrtp

from srs.protocol.rtc.dtls import SrtpKeys
from srs.util.errors import ParseError

_PROFILES = {
    "SRTP_AES128_CM_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "SRTP_AEAD_AES_128_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
}
REPLAY_WINDOW = 1024  # packets (libsrtp's default is 128; NACK retransmissions arrive late)


class SrtpSession:
    def __init__(self, keys: SrtpKeys) -> None:
        profile = _PROFILES.get(keys.profile)
        if profile is None:
            raise ValueError(f"unsupported SRTP profile {keys.profile}")
        tx = pylibsrtp.Policy(
            key=keys.local_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile
        )
        tx.allow_repeat_tx = True  # a NACKed packet is sent again as it was
        tx.window_size = REPLAY_WINDOW
        rx = pylibsrtp.Policy(
            key=keys.remote_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile
        )
        rx.window_size = REPLAY_WINDOW
        self._tx = pylibsrtp.Session(tx)
        self._rx = pylibsrtp.Session(rx)
        self.profile = keys.profile

    def protect_rtp(self, packet: bytes) -> bytes:
        return self._tx.protect(packet)

    def protect_rtcp(self, packet: bytes) -> bytes:
        return self._tx.protect_rtcp(packet)

    def unprotect_rtp(self, packet: bytes) -> bytes:
        try:
            return self._rx.unprotect(packet)
        except pylibsrtp.Error as e:
            raise ParseError(f"srtp: {e}") from None

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        try:
            return self._rx.unprotect_rtcp(packet)
        except pylibsrtp.Error as e:
            raise ParseError(f"srtcp: {e}") from None


class PlainSession:
    """``encrypt off``: RTP and RTCP as they are."""

    profile = "plain"

    def protect_rtp(self, packet: bytes) -> bytes:
        return packet

    def protect_rtcp(self, packet: bytes) -> bytes:
        return packet

    def unprotect_rtp(self, packet: bytes) -> bytes:
        return packet

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        return packet
