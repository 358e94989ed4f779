"""HTTP VOD decisions (srs.server.vod): atoll, ``?start=``, SRS's query ranges, the FLV head scan."""

from __future__ import annotations

import pytest

from srs.format import flv
from srs.server.vod import (
    MAX_SCAN_TAGS,
    FlvHead,
    QueryRange,
    atoll,
    flv_start,
    mp4_range_override,
    parse_query_range,
    plan_flv_start,
    scan_flv_head,
    unsatisfiable_range,
)
from srs.util.errors import ParseError
from unit.codec.samples import clip_bytes, clip_tags


def reader(data: bytes):  # type: ignore[no-untyped-def]
    return lambda pos, n: data[pos : pos + n]


def scan(data: bytes) -> FlvHead:
    return scan_flv_head(reader(data), len(data))


V = flv.encode_tag(9, 0, b"\x17\x00\x00\x00\x00" + b"v" * 20)  # AVC sequence header
A = flv.encode_tag(8, 0, b"\xaf\x00\x12\x10")  # AAC sequence header
S = flv.encode_tag(18, 0, flv.script_body("onMetaData", {"duration": 1.0}))
VF = flv.encode_tag(9, 40, b"\x27\x01\x00\x00\x00" + b"f" * 50)  # an inter frame
AF = flv.encode_tag(8, 23, b"\xaf\x01" + b"a" * 30)
H = flv.header(True, True)  # 13 bytes


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("", 0),
        ("0", 0),
        ("123", 123),
        ("  42", 42),
        ("\t\n+7", 7),
        ("-5", -5),
        ("12abc", 12),
        ("abc", 0),
        ("1.5", 1),
        ("- 3", 0),
        ("+", 0),
        ("0x10", 0),
        ("99999999999999999999999", (1 << 63) - 1),
        ("-99999999999999999999999", -(1 << 63)),
        ("٣", 0),  # a non-ASCII digit is not a C digit
    ],
)
def test_atoll_is_c_atoll(text: str, want: int) -> None:
    assert atoll(text) == want


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ({}, 0),
        ({"start": ""}, 0),
        ({"start": "0"}, 0),
        ({"start": "-100"}, 0),  # SRS: offset <= 0 serves the whole file
        ({"start": "abc"}, 0),
        ({"start": "702"}, 702),
        ({"start": "702xyz"}, 702),
        ({"other": "5"}, 0),
    ],
)
def test_flv_start(query: dict[str, str], want: int) -> None:
    assert flv_start(query) == want


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("0-99", QueryRange(0, 99)),
        ("100-", QueryRange(100, None)),
        ("-500", QueryRange(0, 500)),  # SRS reads "-n" as 0..n in the query form
        ("bytes=10-20", QueryRange(10, 20)),
        ("-", QueryRange(0, None)),
        ("5-5", QueryRange(5, 5)),
        ("20-10", None),  # start after end: the whole file
        ("abc", None),  # no "-": the whole file
        ("", None),
        ("x-y", QueryRange(0, 0)),  # atoll("x") = atoll("y") = 0, as in SRS
        ("5--3", None),  # end -3 < start
        ("0--1", QueryRange(0, None)),  # atoll("-1") = -1 is SRS's "to the end"
        (" 7-9", QueryRange(7, 9)),
    ],
)
def test_parse_query_range(value: str, want: QueryRange | None) -> None:
    assert parse_query_range(value) == want


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ({}, None),  # no query form: the Range header decides
        ({"range": "1-2"}, "bytes=1-2"),
        ({"bytes": "3-"}, "bytes=3-"),
        ({"range": "1-2", "bytes": "3-4"}, "bytes=1-2"),  # range first, as SRS
        ({"range": "", "bytes": "3-4"}, "bytes=3-4"),
        ({"range": "nothing"}, ""),  # unusable: the whole file, the header ignored
        ({"bytes": "9-1"}, ""),
    ],
)
def test_mp4_range_override(query: dict[str, str], want: str | None) -> None:
    assert mp4_range_override(query) == want


@pytest.mark.parametrize(
    ("name", "data", "want"),
    [
        # (header_size, sh_start, sh_end, video, audio)
        ("metadata then V A", H + S + V + A + VF + AF, (13, 13 + len(S), 13 + len(S) + len(V) + len(A), True, True)),
        ("A then V", H + A + V + AF, (13, 13, 13 + len(A) + len(V), True, True)),
        ("script between V and A is kept", H + V + S + A + VF, (13, 13, 13 + len(V) + len(S) + len(A), True, True)),
        ("video only: stops at the second video", H + S + V + VF + VF, (13, 13 + len(S), 13 + len(S) + len(V), True, False)),
        ("audio only", H + A + AF + AF, (13, 13, 13 + len(A), False, True)),
        ("no A/V at all", H + S + S, (13, 13, 13, False, False)),
        ("header only", H, (13, 13, 13, False, False)),
        ("truncated first tag", H + V[:-1], (13, 13, 13, False, False)),
        ("truncated second tag keeps the first", H + V + A[:5], (13, 13, 13 + len(V), True, False)),
        ("filter bits masked", H + bytes([0x29]) + V[1:] + A, (13, 13, 13 + len(V) + len(A), True, True)),
        (
            "DataOffset 12 honoured",
            b"FLV\x01\x05\x00\x00\x00\x0c" + b"xyz" + b"\x00" * 4 + V + A,
            (16, 16, 16 + len(V) + len(A), True, True),
        ),
    ],
)  # fmt: skip
def test_scan_flv_head(name: str, data: bytes, want: tuple[int, int, int, bool, bool]) -> None:
    assert scan(data) == FlvHead(*want), name


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"FL",
        b"NOT-AN-FLV-FILE!",
        b"FLV\x01\x05\x00\x00\x00\x08" + b"\x00" * 8,  # DataOffset below 9
        b"FLV\x01\x05\xff\xff\xff\xff" + b"\x00" * 8,  # absurd DataOffset
        b"FLV\x01\x05\x00\x00\x00\x09",  # no PreviousTagSize0
    ],
)
def test_scan_refuses_what_is_not_flv(data: bytes) -> None:
    with pytest.raises(ParseError):
        scan(data)


def test_scan_gives_up_after_max_tags() -> None:
    data = H + S * (MAX_SCAN_TAGS + 5) + V + A
    assert scan(data) == FlvHead(13, 13, 13)


@pytest.mark.parametrize("name", ["bbb.flv", "avatar.flv"])
def test_scan_real_clips(name: str) -> None:
    """The shared clips: onMetaData, then the AVC and AAC sequence headers, then frames."""
    data = clip_bytes(name)
    head = scan(data)
    tags = clip_tags(name)
    assert tags[0].tag_type == flv.TagType.SCRIPT
    assert flv.is_video_sequence_header(tags[1].body) and flv.is_audio_sequence_header(tags[2].body)
    sizes = [11 + len(t.body) + 4 for t in tags[:3]]
    assert head == FlvHead(13, 13 + sizes[0], 13 + sum(sizes), True, True)
    assert flv.parse_file(data[:13] + data[head.sh_start : head.sh_end])[1] == list(tags[1:3])


def test_plan_flv_start() -> None:
    data = H + S + V + A + VF + AF
    offset = len(H + S + V + A)
    plan = plan_flv_start(offset, len(data), reader(data))
    assert plan.status == 200
    body = b"".join(data[p : p + n] for p, n in plan.pieces())
    assert body == H + V + A + VF + AF and plan.content_length == len(body)
    end = plan_flv_start(len(data), len(data), reader(data))  # at the end: headers only
    assert end.status == 200 and b"".join(data[p : p + n] for p, n in end.pieces()) == H + V + A
    over = plan_flv_start(len(data) + 1, len(data), reader(data))
    assert (over.status, over.pieces(), over.content_length) == (416, [], 0)
    assert unsatisfiable_range(len(data)) == f"bytes */{len(data)}"
    with pytest.raises(ParseError):
        plan_flv_start(1, 4, reader(b"abcd"))
