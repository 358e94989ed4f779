"""AMF0/AMF3 decoders under hostile input: only ParseError escapes, whatever the bytes."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from srs.format import amf0, amf3
from srs.util.errors import ParseError
from unit.format.amf_cases import AMF0_CASES, AMF0_DECODE_ONLY, AMF0_ERRORS, AMF3_CASES, AMF3_ERRORS

EXAMPLES = int(os.environ.get("SRS_FUZZ_EXAMPLES", "300"))
SEEDS = [c[1] for c in AMF0_CASES + AMF0_DECODE_ONLY] + [c[1] for c in AMF0_ERRORS]
SEEDS3 = [c[1] for c in AMF3_CASES] + [c[1] for c in AMF3_ERRORS]


def mutate(seed: bytes, data: st.DataObject) -> bytes:
    """Flip, cut, insert or duplicate bytes of a real encoding."""
    b = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        if op == "flip" and b:
            i = data.draw(st.integers(0, len(b) - 1))
            b[i] = data.draw(st.integers(0, 255))
        elif op == "cut" and b:
            b = b[: data.draw(st.integers(0, len(b) - 1))]
        elif op == "insert":
            i = data.draw(st.integers(0, len(b)))
            b[i:i] = data.draw(st.binary(max_size=8))
        else:
            b += bytes(b)
    return bytes(b)


def only_parse_errors(fn: object, data: bytes) -> None:
    assert callable(fn)
    try:
        fn(data)
    except ParseError:
        pass


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=512))
@example(b"\x0a" + b"\x0a\x00\x00\x00\x01" * 5000)
@example(b"\x11" + b"\x09\x03\x01" * 5000)
def test_amf0_random_bytes(data: bytes) -> None:
    only_parse_errors(amf0.decode_all, data)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(SEEDS), st.data())
def test_amf0_mutated_real_encodings(seed: bytes, data: st.DataObject) -> None:
    blob = mutate(seed, data)
    only_parse_errors(amf0.decode_all, blob)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=512))
def test_amf3_random_bytes(data: bytes) -> None:
    only_parse_errors(amf3.decode_all, data)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(SEEDS3), st.data())
def test_amf3_mutated_real_encodings(seed: bytes, data: st.DataObject) -> None:
    only_parse_errors(amf3.decode_all, mutate(seed, data))


values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=20) | st.just(amf0.UNDEFINED),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4).map(amf0.EcmaArray)
    ),
    max_leaves=20,
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(values, max_size=4))
def test_amf0_any_value_round_trips(vals: list[object]) -> None:
    blob = amf0.encode(*vals)
    assert amf0.decode_all(blob) == vals
    assert amf0.encode(*amf0.decode_all(blob)) == blob
