"""HTTP-AAC / HTTP-MP3 wires: ADTS from the sequence header, MP3 frames after SRS's ID3 header."""

from __future__ import annotations

from srs.codec import aac
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.remux.audio import MP3_ID3_HEADER, AacWire, Mp3Wire


def test_aac_wire_writes_adts_after_the_sequence_header() -> None:
    w = AacWire()
    frame = MediaMessage(AUDIO, 23, b"\xaf\x01" + b"\x21" * 50, codec=10)
    assert w.encode(frame) == b""  # no AudioSpecificConfig yet
    assert (
        w.encode(
            MediaMessage(AUDIO, 0, b"\xaf\x00" + aac.build_asc(2, 48000, 1), sequence_header=True, codec=10)
        )
        == b""
    )
    out = w.encode(frame)
    h = aac.parse_adts(out)
    assert (h.frame_length, out[7:]) == (57, b"\x21" * 50)
    assert w.encode(MediaMessage(VIDEO, 0, b"\x17\x01", codec=7)) == b""
    assert w.encode(MediaMessage(AUDIO, 0, b"\x2f" + b"\xff\xfb" * 10, codec=2)) == b""  # MP3 on .aac


def test_mp3_wire_is_srs_id3_then_frames() -> None:
    w = Mp3Wire()
    assert w.preamble == MP3_ID3_HEADER and len(MP3_ID3_HEADER) == 20 and MP3_ID3_HEADER[:3] == b"ID3"
    body = b"\xff\xfb\x90\x64" + bytes(100)
    assert w.encode(MediaMessage(AUDIO, 0, b"\x2f" + body, codec=2)) == body
    assert w.encode(MediaMessage(AUDIO, 0, b"\xaf\x01\x21", codec=10)) == b""
