"""VP8 payload descriptors (RFC 7741 4.2) and frame/keyframe detection for the WebRTC relay."""

from __future__ import annotations

import pytest

from srs.protocol.rtc import payload_vp8 as vp8
from srs.util.errors import ParseError

KEY_HEADER = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A])  # P=0: key frame (then the start code)
INTER_HEADER = bytes([0x11, 0x02, 0x00])  # P=1

CASES = [
    # (payload, descriptor size, starts a frame)
    (bytes([0x10]) + KEY_HEADER, 1, True),  # S=1, PID=0, no extension
    (bytes([0x00, 0xAA]), 1, False),  # a middle piece
    (bytes([0x11, 0xAA]), 1, False),  # S=1 but partition 1
    (bytes([0x90, 0x80, 0x05]) + KEY_HEADER, 3, True),  # X, I with a 7-bit picture id
    (bytes([0x90, 0x80, 0x85, 0x01]) + KEY_HEADER, 4, True),  # 15-bit picture id (M)
    (bytes([0x90, 0xE0, 0x85, 0x01, 0x07, 0x20]) + KEY_HEADER, 6, True),  # I + L + T
    (bytes([0x90, 0x10, 0x20, 0x00]), 3, True),  # K only
]


@pytest.mark.parametrize(("payload", "size", "start"), CASES)
def test_descriptor(payload: bytes, size: int, start: bool) -> None:
    assert vp8.descriptor_size(payload) == size
    assert vp8.starts_frame(payload) is start
    assert vp8.parse_payload(payload) == [payload]


@pytest.mark.parametrize("bad", [b"", b"\x80", b"\x90\x80", b"\x10", b"\x90\xe0\x85\x01\x07"])
def test_cut_descriptors_are_parse_errors(bad: bytes) -> None:
    with pytest.raises(ParseError):
        vp8.parse_payload(bad)


def test_frames_and_keyframes_through_the_assembler() -> None:
    asm = vp8.assembler()
    key = [bytes([0x90, 0x80, 0x01]) + KEY_HEADER[1:] + b"A" * 10, bytes([0x80, 0x80, 0x01]) + b"B" * 5]
    inter = [bytes([0x90, 0x80, 0x02, 0x01]) + b"C" * 4]
    frames = asm.push(1, 3000, False, inter[0], 0)  # before a keyframe: skipped
    frames += asm.push(2, 6000, False, key[0], 0) + asm.push(3, 6000, True, key[1], 0)
    frames += asm.push(4, 9000, True, inter[0], 0)
    frames += asm.poll(1000)  # the reorder buffer holds the start a little
    assert [f.keyframe for f in frames] == [True, False]
    assert vp8.frame_data(frames[0].nalus) == KEY_HEADER[1:] + b"A" * 10 + b"B" * 5
    assert frames[0].payloads == tuple(key)
    assert not vp8.is_keyframe([bytes([0x00]) + KEY_HEADER[1:]])  # a piece that does not start the frame
