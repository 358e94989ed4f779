"""AMF0 and AMF3 from one case table: decode, encode (byte for byte), errors."""

from __future__ import annotations

from typing import Any

import pytest

from srs.format import amf0, amf3
from srs.util.errors import ParseError
from unit.format.amf_cases import AMF0_CASES, AMF0_DECODE_ONLY, AMF0_ERRORS, AMF3_CASES, AMF3_ERRORS


@pytest.mark.parametrize(("name", "data", "value"), AMF0_CASES, ids=[c[0] for c in AMF0_CASES])
def test_amf0_decode(name: str, data: bytes, value: Any) -> None:
    got, end = amf0.decode(data)
    assert got == value and type(got) is type(value)
    assert end == len(data)


@pytest.mark.parametrize(("name", "data", "value"), AMF0_CASES, ids=[c[0] for c in AMF0_CASES])
def test_amf0_encode_round_trips(name: str, data: bytes, value: Any) -> None:
    assert amf0.encode(value) == data


@pytest.mark.parametrize(("name", "data", "value"), AMF0_DECODE_ONLY, ids=[c[0] for c in AMF0_DECODE_ONLY])
def test_amf0_tolerated_forms(name: str, data: bytes, value: Any) -> None:
    assert amf0.decode_all(data) == [value]


@pytest.mark.parametrize(("name", "data"), AMF0_ERRORS, ids=[c[0] for c in AMF0_ERRORS])
def test_amf0_errors_are_parse_errors(name: str, data: bytes) -> None:
    with pytest.raises(ParseError) as e:
        amf0.decode_all(data)
    assert e.value.code == 2003


def test_amf0_command_message() -> None:
    """A whole connect command: values one after another."""
    body = amf0.encode("connect", 1, {"app": "live", "tcUrl": "rtmp://h/live"}, None)
    assert amf0.decode_all(body) == ["connect", 1.0, {"app": "live", "tcUrl": "rtmp://h/live"}, None]


def test_amf0_int_and_tuple_are_encoded_as_number_and_strict_array() -> None:
    assert amf0.encode(3) == amf0.encode(3.0)
    assert amf0.encode((1, 2)) == amf0.encode([1.0, 2.0])


def test_amf0_invalid_utf8_round_trips() -> None:
    raw = b"\x02\x00\x03\xff\xfe\x41"
    v = amf0.decode_all(raw)[0]
    assert amf0.encode(v) == raw


def test_amf0_refuses_unknown_python_types() -> None:
    with pytest.raises(ParseError):
        amf0.encode(object())
    deep: list[Any] = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ParseError):
        amf0.encode(deep)


def test_undefined_is_a_singleton_and_falsy() -> None:
    assert amf0.decode(b"\x06")[0] is amf0.UNDEFINED
    assert not amf0.UNDEFINED and repr(amf0.UNDEFINED) == "UNDEFINED"


@pytest.mark.parametrize(("name", "data", "value"), AMF3_CASES, ids=[c[0] for c in AMF3_CASES])
def test_amf3_decode(name: str, data: bytes, value: Any) -> None:
    got, end = amf3.decode_value(data)
    assert got == value
    assert end == len(data)


@pytest.mark.parametrize(("name", "data"), AMF3_ERRORS, ids=[c[0] for c in AMF3_ERRORS])
def test_amf3_errors_are_parse_errors(name: str, data: bytes) -> None:
    with pytest.raises(ParseError):
        amf3.decode_all(data)


def test_amf3_object_and_trait_references() -> None:
    # two objects of the same (inline, then referenced) traits, then a reference to the first object
    data = (
        b"\x09\x07\x01"  # dense array of 3
        + b"\x0a\x13\x01\x03x\x04\x01"  # {x: 1} with inline traits (1 sealed member)
        + b"\x0a\x01\x04\x02"  # {x: 2} with traits reference 0
        + b"\x0a\x02"  # object reference 1 (index 0 is the array itself)
    )
    assert amf3.decode_all(data) == [[{"x": 1.0}, {"x": 2.0}, {"x": 1.0}]]
