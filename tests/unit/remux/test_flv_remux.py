"""FLV wire format and the header guess (SRS guess_has_av, ossrs/srs#939)."""

from __future__ import annotations

import pytest

from srs.format import flv
from srs.media.message import AUDIO, DATA, VIDEO, MediaMessage
from srs.remux.flv import GUESS_WAIT_MS, FlvWire, guess_av


def vsh() -> MediaMessage:
    return MediaMessage(VIDEO, 0, b"\x17\x00", keyframe=True, sequence_header=True, codec=7)


def ash() -> MediaMessage:
    return MediaMessage(AUDIO, 0, b"\xaf\x00", sequence_header=True, codec=10)


def v(ts: int, key: bool = False) -> MediaMessage:
    return MediaMessage(VIDEO, ts, b"\x17\x01" if key else b"\x27\x01", keyframe=key, codec=7)


def a(ts: int) -> MediaMessage:
    return MediaMessage(AUDIO, ts, b"\xaf\x01", codec=10)


META = MediaMessage(DATA, 0, b"meta")

CASES = [
    # (name, messages, expected flags or None = wait)
    ("headers and a lone keyframe: wait for audio frames", [META, ash(), vsh(), v(1000, True)], None),
    ("audio frames arrived", [META, ash(), vsh(), v(1000, True), a(1010)], (True, True)),
    (
        "a second of video and still no audio: no audio (SRS rule)",
        [ash(), vsh(), *[v(1000 + i * 40, i == 0) for i in range(26)]],
        (False, True),
    ),
    ("audio frames, video header only: wait", [ash(), vsh(), a(0), a(23)], None),
    ("pure audio stream", [ash(), *[a(i * 23) for i in range(10)]], (True, False)),
    ("pure video stream", [vsh(), v(0, True), v(40)], (False, True)),
    ("only metadata", [META], (False, False)),
    ("headers only, no frames at all yet", [ash(), vsh()], (True, True)),
]


@pytest.mark.parametrize(("name", "msgs", "expected"), CASES, ids=[c[0] for c in CASES])
def test_guess(name: str, msgs: list[MediaMessage], expected: tuple[bool, bool] | None) -> None:
    assert guess_av(msgs, has_audio=True, has_video=True, guess=True) == expected


def test_no_guess_uses_the_config() -> None:
    assert guess_av([v(0, True)], has_audio=True, has_video=False, guess=False) == (True, False)


def test_wait_is_bounded() -> None:
    msgs = [ash(), vsh(), *[v(i * 40, i == 0) for i in range(GUESS_WAIT_MS // 40 + 1)]]
    assert guess_av(msgs, has_audio=True, has_video=True, guess=True) == (False, True)


def test_wire_drops_what_the_header_declared_absent() -> None:
    w = FlvWire(has_audio=False, has_video=True, drop_if_not_match=True)
    assert w.encode(a(0)) == b""
    assert w.encode(v(40)) == flv.encode_tag(VIDEO, 40, v(40).payload)
    assert w.preamble == flv.header(False, True)
    keep = FlvWire(has_audio=False, has_video=True, drop_if_not_match=False)
    assert keep.encode(a(0)) and keep.key != w.key
