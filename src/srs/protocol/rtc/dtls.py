"""DTLS 1.2 for WebRTC, sans-IO over pyOpenSSL memory BIOs: datagrams in, datagrams out, a timer,
and the SRTP keys once the handshake is done (RFC 5764, RFC 8827).

:class:`DtlsEndpoint` takes either role (``a=setup``: an ICE-lite server answering ``actpass`` is
passive, i.e. the DTLS server, as SRS's default ``dtls_role passive``; ``active`` makes it the
client). Both sides present a self-signed certificate (:func:`generate_certificate`, ECDSA P-256 as
SRS); the peer's is checked against the ``a=fingerprint`` of its SDP when the handshake ends.
Robustness comes from OpenSSL's DTLS state machine: a lost flight is sent again when
:meth:`DtlsEndpoint.timeout` expires (call :meth:`DtlsEndpoint.on_timeout`), duplicated records are
dropped, peer certificates of any size arrive in fragmented handshake messages, and records are
cut to a 1200-byte MTU. A datagram that is not whole, well-framed DTLS records (a truncated or
garbled record header, a handshake fragment that does not fit its message) is dropped before
OpenSSL sees it, so it cannot end the handshake: the peer's retransmission brings the flight
again. (A bit flipped inside a plaintext handshake message that keeps the framing is caught by
the Finished check and ends the handshake, as in any DTLS stack; UDP's checksum makes it rare.)

SRTP profiles offered: AEAD_AES_128_GCM and AES_CM_128_HMAC_SHA1_80 (the first both sides support
wins). The keying material is exported with the "EXTRACTOR-dtls_srtp" label and split into the
client and server keys and salts (RFC 5764 4.2).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from srs.util.errors import ProtocolError

MTU = 1200
SRTP_PROFILES = {
    # name: (key length, salt length), RFC 5764 / RFC 7714
    b"SRTP_AEAD_AES_128_GCM": (16, 12),
    b"SRTP_AES128_CM_SHA1_80": (16, 14),
}
Role = Literal["client", "server"]


@dataclass(frozen=True, slots=True)
class Certificate:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    fingerprint: str  # "AB:CD:..." (sha-256), as the SDP's a=fingerprint:sha-256 carries it


def fingerprint_of(cert: x509.Certificate) -> str:
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def generate_certificate(days: int = 365) -> Certificate:
    """A self-signed ECDSA P-256 certificate with a random name (RFC 8827 6.5)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, os.urandom(8).hex())])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return Certificate(key, cert, fingerprint_of(cert))


@dataclass(frozen=True, slots=True)
class SrtpKeys:
    """What SRTP needs once the handshake is done: our (send) and the peer's (receive) key+salt."""

    profile: str  # "SRTP_AEAD_AES_128_GCM" | "SRTP_AES128_CM_SHA1_80"
    local_key: bytes  # key followed by salt
    remote_key: bytes


class DtlsError(ProtocolError):
    """The handshake failed (an alert, a certificate that does not match the SDP fingerprint)."""


_CONTENT_TYPES = frozenset({20, 21, 22, 23})  # change_cipher_spec, alert, handshake, application_data
_VERSIONS = frozenset({0xFEFF, 0xFEFD})  # DTLS 1.0, 1.2


def well_formed(data: bytes) -> bool:
    """Whether ``data`` is whole DTLS records with sane headers (RFC 6347 4.1, 4.2.2)."""
    pos, n = 0, len(data)
    if n == 0:
        return False
    while pos < n:
        if n - pos < 13:
            return False
        ctype = data[pos]
        version = int.from_bytes(data[pos + 1 : pos + 3], "big")
        epoch = int.from_bytes(data[pos + 3 : pos + 5], "big")
        length = int.from_bytes(data[pos + 11 : pos + 13], "big")
        body = pos + 13
        if ctype not in _CONTENT_TYPES or version not in _VERSIONS or body + length > n:
            return False
        if ctype == 22 and epoch == 0:  # a plaintext handshake fragment: its header must fit
            if length < 12:
                return False
            msg_len = int.from_bytes(data[body + 1 : body + 4], "big")
            frag_off = int.from_bytes(data[body + 6 : body + 9], "big")
            frag_len = int.from_bytes(data[body + 9 : body + 12], "big")
            if frag_len != length - 12 or frag_off + frag_len > msg_len:
                return False
        pos = body + length
    return True


def pack_records(data: bytes, mtu: int = MTU) -> list[bytes]:
    """Concatenated DTLS records -> datagrams of whole records, each at most ``mtu`` bytes (OpenSSL
    already cuts handshake messages into records that fit; a longer record goes alone)."""
    out: list[bytes] = []
    start = pos = 0
    n = len(data)
    while pos < n:
        end = pos + 13 + int.from_bytes(data[pos + 11 : pos + 13], "big") if n - pos >= 13 else n
        end = min(end, n)
        if end - start > mtu and pos > start:
            out.append(data[start:pos])
            start = pos
        pos = end
    if start < n:
        out.append(data[start:])
    return out


def _accept_any(conn: SSL.Connection, cert: object, errno: int, depth: int, ok: int) -> bool:
    return True  # self-signed by design: the SDP fingerprint is the check (after the handshake)


class DtlsEndpoint:
    """One side of a DTLS association (a WebRTC peer connection)."""

    def __init__(self, cert: Certificate, role: Role, remote_fingerprint: str | None = None) -> None:
        ctx = SSL.Context(SSL.DTLS_METHOD)
        ctx.set_options(SSL.OP_NO_QUERY_MTU | SSL.OP_NO_TICKET)
        ctx.use_certificate(cert.cert)
        ctx.use_privatekey(cert.key)
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, _accept_any)
        ctx.set_tlsext_use_srtp(b":".join(SRTP_PROFILES))
        ctx.set_cipher_list(
            b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA"
        )
        self._conn = SSL.Connection(ctx)
        self._conn.set_ciphertext_mtu(MTU)
        if role == "server":
            self._conn.set_accept_state()
        else:
            self._conn.set_connect_state()
        self.role = role
        self.remote_fingerprint = remote_fingerprint.upper() if remote_fingerprint else None
        self.keys: SrtpKeys | None = None
        self.closed = False
        self._started = False

    @property
    def connected(self) -> bool:
        return self.keys is not None

    # ------------------------------------------------------------------ datagrams

    def start(self) -> list[bytes]:
        """Begin (the client sends its ClientHello; the server waits)."""
        self._started = True
        if self.role == "client":
            self._handshake()
        return self._outgoing()

    def receive(self, data: bytes) -> list[bytes]:
        """A DTLS datagram from the peer; what to send back. Raises :class:`DtlsError` when the
        association fails (the peer's alert, a fingerprint mismatch)."""
        if self.closed:
            return []
        self._started = True
        if not well_formed(data):
            return []  # dropped: as if lost, the peer sends its flight again
        self._conn.bio_write(data)
        if self.keys is None:
            self._handshake()
        else:
            self._read_application()
        return self._outgoing()

    def timeout(self) -> float | None:
        """Seconds until a lost flight must be sent again (None: no timer running)."""
        if self.keys is not None or self.closed or not self._started:
            return None
        t = self._conn.DTLSv1_get_timeout()
        return None if t is None else float(t)

    def on_timeout(self) -> list[bytes]:
        """The timer expired: the last flight again, if it is still unanswered."""
        if self.keys is not None or self.closed:
            return []
        try:
            self._conn.DTLSv1_handle_timeout()
        except SSL.Error as e:
            raise DtlsError(f"dtls: retransmission failed: {e}") from None
        return self._outgoing()

    def close(self) -> list[bytes]:
        """Send close_notify."""
        if self.closed:
            return []
        self.closed = True
        try:
            self._conn.shutdown()
        except SSL.Error:
            pass
        return self._outgoing()

    # ------------------------------------------------------------------ inside

    def _outgoing(self) -> list[bytes]:
        out: list[bytes] = []
        while True:
            try:
                out.append(self._conn.bio_read(65536))
            except SSL.WantReadError:
                break
        # The memory BIO holds a whole flight as one run of records: cut it back into datagrams.
        return pack_records(b"".join(out)) if out else out

    def _handshake(self) -> None:
        try:
            self._conn.do_handshake()
        except SSL.WantReadError:
            return
        except SSL.ZeroReturnError:
            self.closed = True
            return
        except SSL.Error as e:
            self.closed = True
            raise DtlsError(f"dtls: handshake failed: {e}") from None
        self._connected()

    def _read_application(self) -> None:
        try:
            self._conn.recv(65536)  # WebRTC carries no DTLS application data but SCTP (not ours)
        except SSL.WantReadError:
            pass
        except SSL.ZeroReturnError:
            self.closed = True  # close_notify
        except SSL.Error:
            pass  # a bad record after the handshake: dropped, the association goes on

    def _connected(self) -> None:
        peer = self._conn.get_peer_certificate(as_cryptography=True)
        if peer is None:
            self.closed = True
            raise DtlsError("dtls: the peer sent no certificate")
        got = fingerprint_of(peer)
        if self.remote_fingerprint is not None and got != self.remote_fingerprint:
            self.closed = True
            raise DtlsError(f"dtls: certificate fingerprint {got} is not the SDP's {self.remote_fingerprint}")
        profile = self._conn.get_selected_srtp_profile()
        if profile not in SRTP_PROFILES:
            self.closed = True
            raise DtlsError(f"dtls: no SRTP profile agreed ({profile!r})")
        key_len, salt_len = SRTP_PROFILES[profile]
        material = self._conn.export_keying_material(b"EXTRACTOR-dtls_srtp", 2 * (key_len + salt_len))
        client_key = material[:key_len]
        server_key = material[key_len : 2 * key_len]
        client_salt = material[2 * key_len : 2 * key_len + salt_len]
        server_salt = material[2 * key_len + salt_len :]
        client, server = client_key + client_salt, server_key + server_salt
        local, remote = (client, server) if self.role == "client" else (server, client)
        self.keys = SrtpKeys(profile.decode(), local, remote)
