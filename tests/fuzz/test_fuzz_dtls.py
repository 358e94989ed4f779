"""Fuzz the DTLS endpoint's input: whatever datagrams arrive, the framing check never raises and
the endpoint raises at most DtlsError (never an OpenSSL or Python error)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from srs.protocol.rtc.dtls import DtlsEndpoint, DtlsError, generate_certificate, well_formed

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
CERT = generate_certificate()
_CLIENT = DtlsEndpoint(generate_certificate(), "client")
HELLO = _CLIENT.start()[0]


@FUZZ
@given(st.lists(st.binary(max_size=400), max_size=4))
@example([HELLO])
@example([HELLO, HELLO[:-1]])
@example([b"\x16\xfe\xfd" + bytes(10) + b"\x00\x0c" + bytes(12)])
def test_garbage_datagrams(datagrams: list[bytes]) -> None:
    server = DtlsEndpoint(CERT, "server")
    server.start()
    for d in datagrams:
        well_formed(d)
        try:
            server.receive(d)
        except DtlsError:
            return


@FUZZ
@given(st.integers(min_value=0, max_value=len(HELLO) - 1), st.integers(min_value=0, max_value=255))
def test_a_corrupted_client_hello(at: int, value: int) -> None:
    server = DtlsEndpoint(CERT, "server")
    server.start()
    try:
        server.receive(HELLO[:at] + bytes([value]) + HELLO[at + 1 :])
    except DtlsError:
        pass
