"""DTLS for WebRTC: our endpoints handshake in both roles, over a link that loses any one flight,
duplicates and corrupts records; the SRTP keys agree (pylibsrtp protects with one side's and
unprotects with the other's); a certificate that is not the SDP's fingerprint is refused."""

from __future__ import annotations

import time

import pylibsrtp
import pytest

from srs.protocol.rtc.dtls import (
    Certificate,
    DtlsEndpoint,
    DtlsError,
    fingerprint_of,
    generate_certificate,
    pack_records,
)

SERVER_CERT = generate_certificate()
CLIENT_CERT = generate_certificate()


def pair(**kw: object) -> tuple[DtlsEndpoint, DtlsEndpoint]:
    client = DtlsEndpoint(CLIENT_CERT, "client", SERVER_CERT.fingerprint)
    server = DtlsEndpoint(SERVER_CERT, "server", kw.get("expect", CLIENT_CERT.fingerprint))  # type: ignore[arg-type]
    return client, server


def run(
    client: DtlsEndpoint,
    server: DtlsEndpoint,
    *,
    drop_flight: int | None = None,
    duplicate: bool = False,
    corrupt: bool = False,
    deadline_s: float = 20,
) -> list[int]:
    """Exchange datagrams until both are connected; returns the sizes of what went on the wire.
    Flights are counted in order (the client's first datagrams are flight 0); ``drop_flight``
    loses every datagram of that flight once."""
    wire: list[int] = []
    flights = 0
    pending: list[tuple[DtlsEndpoint, list[bytes]]] = [(server, client.start())]
    server.start()
    t_end = time.monotonic() + deadline_s
    while not (client.connected and server.connected):
        assert time.monotonic() < t_end, "handshake did not finish"
        if not pending:
            timers = [(ep.timeout(), ep) for ep in (client, server) if ep.timeout() is not None]
            if timers:
                wait, ep = min(timers, key=lambda x: x[0])  # type: ignore[arg-type,return-value]
                time.sleep(max(0.0, wait))  # type: ignore[arg-type]
                other = server if ep is client else client
                pending.append((other, ep.on_timeout()))
            continue
        to, datagrams = pending.pop(0)
        flight, flights = flights, flights + 1
        if drop_flight == flight:
            continue
        if duplicate:
            datagrams = [d for d in datagrams for _ in (0, 1)]
        out: list[bytes] = []
        for d in datagrams:
            wire.append(len(d))
            if corrupt:  # garbled copies arrive first: a record length, a fragment header, a cut
                for bad in _garbled(d):
                    out += to.receive(bad)
            out += to.receive(d)
        if out:
            pending.append((server if to is client else client, out))
    return wire


def _garbled(d: bytes) -> list[bytes]:
    longer = bytearray(d)
    longer[11:13] = (int.from_bytes(d[11:13], "big") + 7).to_bytes(2, "big")  # record length
    frag = bytearray(d)
    frag[13 + 9 : 13 + 12] = (0xFFFFFF).to_bytes(3, "big")  # handshake fragment_length
    return [bytes(longer), bytes(frag), d[:-3], d + b"\x16\xfe", b"\x00" + d[1:]]


def srtp_sessions(keys_profile: str, tx: bytes, rx: bytes) -> tuple[pylibsrtp.Session, pylibsrtp.Session]:
    profile = {
        "SRTP_AES128_CM_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
        "SRTP_AEAD_AES_128_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    }[keys_profile]
    out = pylibsrtp.Session(
        pylibsrtp.Policy(key=tx, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile)
    )
    inp = pylibsrtp.Session(
        pylibsrtp.Policy(key=rx, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile)
    )
    return out, inp


def test_handshake_and_srtp_keys_agree() -> None:
    client, server = pair()
    wire = run(client, server)
    assert client.keys is not None and server.keys is not None
    assert client.keys.profile == server.keys.profile == "SRTP_AEAD_AES_128_GCM"
    assert client.keys.local_key == server.keys.remote_key and client.keys.remote_key == server.keys.local_key
    assert len(client.keys.local_key) == 16 + 12
    assert max(wire) <= 1200 + 64  # records cut to the MTU (plus record headers)
    rtp = bytes([0x80, 96, 0, 1]) + (1000).to_bytes(4, "big") + (0x1234).to_bytes(4, "big") + b"payload" * 10
    tx, _ = srtp_sessions(client.keys.profile, client.keys.local_key, client.keys.remote_key)
    _, rx = srtp_sessions(server.keys.profile, server.keys.local_key, server.keys.remote_key)
    assert rx.unprotect(tx.protect(rtp)) == rtp


@pytest.mark.parametrize("flight", [0, 1, 2, 3])
def test_any_lost_flight_is_sent_again(flight: int) -> None:
    """ClientHello (0), the server's ServerHello..Done (1), the client's Certificate..Finished (2),
    the server's ChangeCipherSpec+Finished (3): each lost once, the handshake still ends."""
    client, server = pair()
    run(client, server, drop_flight=flight)
    assert client.connected and server.connected
    assert client.keys is not None and server.keys is not None
    assert client.keys.local_key == server.keys.remote_key


def test_duplicated_and_corrupted_records_are_ignored() -> None:
    client, server = pair()
    run(client, server, duplicate=True)
    assert client.connected and server.connected
    client, server = pair()
    run(client, server, corrupt=True)
    assert client.connected and server.connected
    # After the handshake, garbage is dropped and the association stays up.
    assert server.receive(b"\x17\xfe\xfd" + bytes(40)) == [] and not server.closed


def test_a_certificate_that_is_not_the_sdps_is_refused() -> None:
    client, server = pair(expect=generate_certificate().fingerprint)
    with pytest.raises(DtlsError, match="fingerprint"):
        run(client, server)
    assert server.closed and server.keys is None


def test_close_notify_ends_the_peer() -> None:
    client, server = pair()
    run(client, server)
    for d in client.close():
        server.receive(d)
    assert server.closed and client.closed


def _rsa_certificate(bits: int = 4096) -> Certificate:
    """A large RSA certificate (with a long subject), as some stacks use: its flight is > 1200 bytes."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "x" * 60) for _ in range(8)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return Certificate(key, cert, fingerprint_of(cert))  # type: ignore[arg-type]


def test_a_large_rsa_peer_certificate_flight_is_fragmented_and_accepted() -> None:
    """The peer's big certificate arrives fragmented over several records and datagrams; every
    datagram we put on the wire fits the 1200-byte MTU."""
    big = _rsa_certificate()
    client = DtlsEndpoint(big, "client", SERVER_CERT.fingerprint)
    server = DtlsEndpoint(SERVER_CERT, "server", big.fingerprint)
    wire = run(client, server)
    assert client.connected and server.connected
    assert max(wire) <= 1200 and sum(wire) > 3000, wire


PACK_CASES = [
    # (record body sizes, mtu, datagrams as lists of record indexes)
    ([100, 100, 100], 1200, [[0, 1, 2]]),
    ([600, 600], 1200, [[0], [1]]),  # 613 + 613 > 1200
    ([500, 500, 200], 1200, [[0, 1], [2]]),  # 513 + 513 + 213 > 1200
    ([1300, 10], 1200, [[0], [1]]),  # a record longer than the MTU goes alone
]


@pytest.mark.parametrize(("sizes", "mtu", "groups"), PACK_CASES)
def test_pack_records(sizes: list[int], mtu: int, groups: list[list[int]]) -> None:
    records = [
        bytes([22, 0xFE, 0xFD]) + bytes(8) + n.to_bytes(2, "big") + bytes([i]) * n
        for i, n in enumerate(sizes)
    ]
    got = pack_records(b"".join(records), mtu)
    assert got == [b"".join(records[i] for i in g) for g in groups]
    assert pack_records(b"\x16\xfe") == [b"\x16\xfe"]  # a cut tail is kept (never dropped silently)
