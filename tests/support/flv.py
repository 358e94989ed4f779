"""A small, independent FLV reader for tests (deliberately not ``srs.format.flv``: the code under
test must not judge itself), an HTTP-FLV client that notes when each tag arrived, and a rewriter
from Enhanced-RTMP HEVC (``hvc1`` FourCC) to the legacy "codec id 12" HEVC FLV form.

References: Adobe FLV 10.1 (E.4.1 tag header, E.4.3 VIDEODATA, E.4.3.1 AVCVIDEOPACKET) and the
Enhanced RTMP spec (v1, 2023: ExVideoTagHeader with IsExHeader bit, PacketType, FourCC).
"""

from __future__ import annotations

import http.client
import struct
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

AUDIO, VIDEO, SCRIPT = 8, 9, 18
FLV_HEADER_LEN = 9

# Enhanced RTMP video packet types (E-RTMP v1, "ExVideoTagHeader")
EX_SEQUENCE_START, EX_CODED_FRAMES, EX_SEQUENCE_END, EX_CODED_FRAMES_X = 0, 1, 2, 3
LEGACY_CODEC_AVC, LEGACY_CODEC_HEVC = 7, 12


@dataclass(frozen=True)
class Tag:
    type: int
    timestamp_ms: int
    data: bytes
    arrived_s: float = 0.0  # time.monotonic() when the tag was complete (HTTP-FLV reader only)

    @property
    def is_ex_video(self) -> bool:
        return self.type == VIDEO and bool(self.data) and bool(self.data[0] & 0x80)

    @property
    def frame_type(self) -> int:
        """1 keyframe, 2 inter frame, ... (both legacy and E-RTMP keep it in bits 4-6)."""
        return (self.data[0] >> 4) & 0x07 if self.type == VIDEO and self.data else 0

    @property
    def is_keyframe(self) -> bool:
        return self.frame_type == 1

    @property
    def video_codec(self) -> str:
        """``avc``, ``hevc`` (legacy id 12), or the E-RTMP FourCC (``hvc1``, ``av01``, ...)."""
        if self.type != VIDEO or not self.data:
            return ""
        if self.is_ex_video:
            return self.data[1:5].decode("latin-1")
        return {LEGACY_CODEC_AVC: "avc", LEGACY_CODEC_HEVC: "hevc"}.get(
            self.data[0] & 0x0F, str(self.data[0] & 0x0F)
        )

    @property
    def is_sequence_header(self) -> bool:
        if self.type == VIDEO and self.data:
            if self.is_ex_video:
                return self.data[0] & 0x0F == EX_SEQUENCE_START
            return len(self.data) > 1 and self.data[1] == 0
        if self.type == AUDIO and len(self.data) > 1:
            return self.data[0] >> 4 == 10 and self.data[1] == 0  # AAC sequence header
        return False

    @property
    def is_sequence_end(self) -> bool:
        """AVC/HEVC end of sequence (legacy AVCPacketType 2, E-RTMP SequenceEnd): no picture."""
        if self.type != VIDEO or not self.data:
            return False
        if self.is_ex_video:
            return self.data[0] & 0x0F == EX_SEQUENCE_END
        return len(self.data) > 1 and self.data[1] == 2

    @property
    def is_frame(self) -> bool:
        """A coded audio frame or picture (what ffprobe counts as a packet): not a sequence
        header/end, not an E-RTMP metadata packet, not a "video info/command" frame (type 5)."""
        if self.type == AUDIO:
            return not self.is_sequence_header
        if self.type != VIDEO or not self.data or self.frame_type == 5:
            return False
        if self.is_ex_video:
            return self.data[0] & 0x0F in (EX_CODED_FRAMES, EX_CODED_FRAMES_X)
        return len(self.data) > 1 and self.data[1] == 1

    def encode(self) -> bytes:
        ts = self.timestamp_ms
        head = bytes([self.type]) + len(self.data).to_bytes(3, "big")
        head += (ts & 0xFFFFFF).to_bytes(3, "big") + bytes([(ts >> 24) & 0xFF]) + b"\0\0\0"
        return head + self.data + struct.pack(">I", 11 + len(self.data))


def flv_header(has_audio: bool = True, has_video: bool = True) -> bytes:
    return b"FLV\x01" + bytes([(4 if has_audio else 0) | (1 if has_video else 0)]) + b"\0\0\0\x09\0\0\0\0"


def iter_tags(data: bytes) -> Iterator[Tag]:
    """Tags of a complete FLV byte string (a truncated last tag is ignored)."""
    if data[:3] != b"FLV":
        raise ValueError("not an FLV stream")
    pos = int.from_bytes(data[5:9], "big") + 4  # header, then PreviousTagSize0
    while pos + 11 <= len(data):
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        ts = int.from_bytes(data[pos + 4 : pos + 7], "big") | (data[pos + 7] << 24)
        end = pos + 11 + size
        if end > len(data):
            return
        yield Tag(data[pos] & 0x1F, ts, data[pos + 11 : end])
        pos = end + 4


@dataclass
class HttpFlvCapture:
    """What an HTTP-FLV player received: status, headers, raw body, and the tags with arrival times."""

    status: int
    content_type: str
    started_s: float
    body: bytes
    tags: list[Tag]
    # The server ended the response cleanly before our own time limit: the chunked terminator
    # came (a connection cut mid-body makes http.client raise IncompleteRead instead).
    ended: bool

    def video(self) -> list[Tag]:
        return [t for t in self.tags if t.type == VIDEO]

    def audio(self) -> list[Tag]:
        return [t for t in self.tags if t.type == AUDIO]

    def frames(self, kind: int) -> list[Tag]:
        """Coded frames of one kind (sequence headers and ends left out)."""
        return [t for t in self.tags if t.type == kind and t.is_frame]


def capture_http_flv(url: str, *, max_seconds: float, stop_after_video_frames: int = 0) -> HttpFlvCapture:
    """GET an HTTP-FLV URL and read until the server ends the response or ``max_seconds`` pass.

    Tags are cut from the body as they arrive so that each one carries its arrival time
    (to check that a newcomer gets a keyframe *quickly*).
    """
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=max_seconds + 5)
    started = time.monotonic()
    conn.request("GET", u.path + (f"?{u.query}" if u.query else ""))
    sock = conn.sock  # the response keeps reading from it after the connection lets it go
    assert sock is not None
    resp = conn.getresponse()
    body = bytearray()
    tags: list[Tag] = []
    pos = 0
    ended = False
    deadline = started + max_seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                chunk = resp.read1(65536)
            except TimeoutError:
                break
            if not chunk:
                ended = True
                break
            body += chunk
            now = time.monotonic()
            if pos == 0 and len(body) >= FLV_HEADER_LEN + 4:
                pos = int.from_bytes(body[5:9], "big") + 4
            while pos and pos + 11 <= len(body):
                size = int.from_bytes(body[pos + 1 : pos + 4], "big")
                end = pos + 11 + size
                if end + 4 > len(body):
                    break
                ts = int.from_bytes(body[pos + 4 : pos + 7], "big") | (body[pos + 7] << 24)
                tags.append(Tag(body[pos] & 0x1F, ts, bytes(body[pos + 11 : end]), now))
                pos = end + 4
            if stop_after_video_frames and (
                sum(1 for t in tags if t.type == VIDEO and t.is_frame) >= stop_after_video_frames
            ):
                break
    finally:
        conn.close()
    return HttpFlvCapture(
        status=resp.status,
        content_type=resp.getheader("Content-Type", ""),
        started_s=started,
        body=bytes(body),
        tags=tags,
        ended=ended,
    )


def shift_timestamps(data: bytes, offset_ms: int) -> bytes:
    """The same FLV with every tag ``offset_ms`` later (an encoder whose clock starts late)."""
    out = bytearray(data[: int.from_bytes(data[5:9], "big") + 4])
    for tag in iter_tags(data):
        out += Tag(tag.type, tag.timestamp_ms + offset_ms, tag.data).encode()
    return bytes(out)


def ex_hevc_to_legacy(data: bytes) -> bytes:
    """Rewrite an FLV whose HEVC video uses the E-RTMP ``hvc1`` header into the legacy form.

    Legacy HEVC in FLV (codec id 12, used by Chinese CDNs and SRS before E-RTMP) mirrors
    AVCVIDEOPACKET (FLV 10.1 E.4.3.1): ``FrameType<<4 | 12``, then ``AVCPacketType`` (0 sequence
    header = HEVCDecoderConfigurationRecord, 1 NALUs, 2 end of sequence), then a 24-bit signed
    composition time. E-RTMP ``CodedFramesX`` means composition time 0 (no field on the wire).
    """
    out = bytearray(data[: int.from_bytes(data[5:9], "big") + 4])
    for tag in iter_tags(data):
        body = tag.data
        if tag.is_ex_video and tag.video_codec == "hvc1":
            ptype = body[0] & 0x0F
            first = bytes([(tag.frame_type << 4) | LEGACY_CODEC_HEVC])
            rest = body[5:]
            if ptype == EX_SEQUENCE_START:
                body = first + b"\x00\x00\x00\x00" + rest
            elif ptype == EX_CODED_FRAMES:
                body = first + b"\x01" + rest  # rest starts with the SI24 composition time
            elif ptype == EX_CODED_FRAMES_X:
                body = first + b"\x01\x00\x00\x00" + rest
            elif ptype == EX_SEQUENCE_END:
                body = first + b"\x02\x00\x00\x00"
            else:
                continue  # metadata / multitrack packets have no legacy form
        out += Tag(tag.type, tag.timestamp_ms, body).encode()
    return bytes(out)
