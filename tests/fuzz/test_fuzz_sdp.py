"""SDP parser and negotiator under hostile input: only ParseError / SdpNegotiateError escape."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srs.protocol.rtc.negotiate import AnswerOptions, PlayTrack, negotiate, udp_candidate
from srs.protocol.rtc.sdp import SessionDescription
from srs.util.errors import ParseError, SdpNegotiateError
from unit.protocol.rtc.sdp_cases import OFFERS

EXAMPLES = int(os.environ.get("SRS_FUZZ_EXAMPLES", "300"))
SEEDS = [v.encode() for v in OFFERS.values()]
OPTS = AnswerOptions(
    "ufrag123",
    "p" * 32,
    ":".join(["AA"] * 32),
    [udp_candidate("127.0.0.1", 8000)],
    play_tracks=[PlayTrack("audio", 1, "a"), PlayTrack("video", 2, "v")],
)
TOKENS = [
    b"a=",
    b"m=",
    b"\r\n",
    b"\n",
    b" ",
    b":",
    b"/",
    b";",
    b"=",
    b"0",
    b"111",
    b"-1",
    b"99999",
    b"typ",
    b"H264",
]


def mutate(seed: bytes, data: st.DataObject) -> bytes:
    """Flip, cut, insert, duplicate bytes or drop/duplicate whole lines of a real offer."""
    b = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "token", "line"]))
        if op == "flip" and b:
            i = data.draw(st.integers(0, len(b) - 1))
            b[i] = data.draw(st.integers(0, 255))
        elif op == "cut" and b:
            b = b[: data.draw(st.integers(0, len(b) - 1))]
        elif op == "insert":
            i = data.draw(st.integers(0, len(b)))
            b[i:i] = data.draw(st.binary(max_size=8))
        elif op == "token":
            i = data.draw(st.integers(0, len(b)))
            b[i:i] = data.draw(st.sampled_from(TOKENS))
        else:
            lines = bytes(b).split(b"\r\n")
            i = data.draw(st.integers(0, len(lines) - 1))
            if data.draw(st.booleans()):
                del lines[i]
            else:
                lines.insert(i, lines[i])
            b = bytearray(b"\r\n".join(lines))
    return bytes(b)


def check(data: bytes) -> None:
    try:
        sdp = SessionDescription.parse(data)
    except ParseError:
        return
    text = str(sdp)
    assert str(SessionDescription.parse(text)) == text
    for publish in (True, False):
        for codec in ("h264", "hevc", "vp8"):
            OPTS.codec = codec
            try:
                ans = negotiate(sdp, OPTS, publish).answer
            except SdpNegotiateError:
                continue
            SessionDescription.parse(str(ans))


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=512))
def test_sdp_random_bytes(data: bytes) -> None:
    check(data)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(alphabet="vosmtac=:/ 0123456789\r\n-", max_size=300))
def test_sdp_random_text(text: str) -> None:
    check(b"v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\n" + text.encode())


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(SEEDS), st.data())
def test_sdp_mutated_real_offers(seed: bytes, data: st.DataObject) -> None:
    check(mutate(seed, data))
