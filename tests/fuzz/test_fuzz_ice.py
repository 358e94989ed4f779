"""Fuzz the ICE-lite entry points: whatever datagram arrives, only ParseError escapes, and the
demux never raises."""

from __future__ import annotations

import os

from aioice import stun
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from srs.protocol.rtc.ice import IceSession, IceSessions, classify
from srs.util.errors import ParseError

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PWD = "p" * 32
_MSG = stun.Message(
    message_method=stun.Method.BINDING,
    message_class=stun.Class.REQUEST,
    attributes={"USERNAME": "srv:cli", "PRIORITY": 1, "ICE-CONTROLLING": 1, "USE-CANDIDATE": None},
)
_MSG.add_message_integrity(PWD.encode())
_MSG.add_fingerprint()
SEED = bytes(_MSG)


@FUZZ
@given(st.binary(max_size=300))
@example(SEED)
@example(SEED[:20] + b"\x00\x06\x00\x03ab")  # a truncated USERNAME
def test_stun_only_raises_parse_error(data: bytes) -> None:
    table = IceSessions()
    table.add(IceSession("srv", PWD, "cli"), now_s=0)
    classify(data)
    try:
        table.on_stun(data, ("127.0.0.1", 1), now_s=1)
    except ParseError:
        pass


@FUZZ
@given(st.integers(min_value=0, max_value=len(SEED) - 1), st.integers(min_value=0, max_value=255))
def test_one_corrupted_byte_of_a_good_request(at: int, value: int) -> None:
    table = IceSessions()
    table.add(IceSession("srv", PWD, "cli"), now_s=0)
    data = SEED[:at] + bytes([value]) + SEED[at + 1 :]
    try:
        table.on_stun(data, ("127.0.0.1", 1), now_s=1)
    except ParseError:
        pass
