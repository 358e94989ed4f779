"""A GB28181 test device: an FLV clip's H.264 + AAC (or G.711 A-law made from its audio) as MPEG-PS in
RTP over TCP (RFC 4571), after the SIP server's ``POST /gb/v1/publish/`` (SRS's external-SIP API).

It is written from the standards, independent of ``srs.format.ps`` (the code under test): ISO/IEC
13818-1 2.5.3 (pack header, system header, program stream map), 2.4.3.6 (PES), RFC 3550 (RTP) and
RFC 4571 (2-byte length framing), GB/T 28181-2016 annex C (a PSM before keyframes, stream types 0x1B
H.264, 0x0F AAC, 0x90 G.711 A-law).
"""

from __future__ import annotations

import json
import socket
import struct
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from support.flv import AUDIO, VIDEO, iter_tags

H264, H265, AAC, G711A, G711U = 0x1B, 0x24, 0x0F, 0x90, 0x91
VIDEO_ID, AUDIO_ID = 0xE0, 0xC0
RTP_PAYLOAD = 1400
MAX_PES_PAYLOAD = 60000


def _crc32(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def _ts(prefix: int, t: int) -> bytes:
    t %= 1 << 33
    return bytes(
        (
            (prefix << 4) | ((t >> 29) & 0x0E) | 1,
            (t >> 22) & 0xFF,
            ((t >> 14) & 0xFE) | 1,
            (t >> 7) & 0xFF,
            ((t << 1) & 0xFE) | 1,
        )
    )


def pack_header(scr: int, mux_rate: int = 6106) -> bytes:
    """MPEG-2 pack header (14 bytes, no stuffing); ``scr`` in 90 kHz."""
    scr %= 1 << 33
    b = bytearray(b"\x00\x00\x01\xba")
    b.append(0x40 | ((scr >> 27) & 0x38) | 0x04 | ((scr >> 28) & 0x03))
    b.append((scr >> 20) & 0xFF)
    b.append(((scr >> 12) & 0xF8) | 0x04 | ((scr >> 13) & 0x03))
    b.append((scr >> 5) & 0xFF)
    b.append(((scr << 3) & 0xF8) | 0x04)  # SCR extension 0
    b.append(0x01)
    b += bytes(((mux_rate >> 14) & 0xFF, (mux_rate >> 6) & 0xFF, ((mux_rate << 2) & 0xFC) | 0x03))
    b.append(0xF8)  # reserved, stuffing length 0
    return bytes(b)


def system_header(has_audio: bool) -> bytes:
    streams = bytes((VIDEO_ID, 0xE0, 0x80)) + (bytes((AUDIO_ID, 0xC0, 0x20)) if has_audio else b"")
    body = bytes((0x80, 0x00, 0x01, 0x04 | 0x01 if has_audio else 0x01, 0xE1, 0xFF)) + streams
    return b"\x00\x00\x01\xbb" + struct.pack(">H", len(body)) + body


def psm(video_type: int, audio_type: int | None) -> bytes:
    es = bytes((video_type, VIDEO_ID, 0, 0))
    if audio_type is not None:
        es += bytes((audio_type, AUDIO_ID, 0, 0))
    body = bytes((0xE0, 0xFF, 0, 0)) + struct.pack(">H", len(es)) + es
    head = b"\x00\x00\x01\xbc" + struct.pack(">H", len(body) + 4)
    return head + body + struct.pack(">I", _crc32(head + body))


def pes(stream_id: int, payload: bytes, pts: int | None, dts: int | None = None) -> bytes:
    if pts is None:
        fields, flags = b"", 0x00
    elif dts is not None and dts != pts:
        fields, flags = _ts(0b0011, pts) + _ts(0b0001, dts), 0xC0
    else:
        fields, flags = _ts(0b0010, pts), 0x80
    length = 3 + len(fields) + len(payload)
    return (
        b"\x00\x00\x01"
        + bytes((stream_id,))
        + struct.pack(">H", length)
        + bytes((0x80, flags, len(fields)))
        + fields
        + payload
    )


class PsMuxer:
    """Elementary frames -> PS packs: one pack per video frame (PSM + system header on keyframes), a
    frame over 60000 bytes cut into several PES (only the first timed); audio PES in a pack of their own."""

    def __init__(self, video_type: int = H264, audio_type: int | None = AAC) -> None:
        self.video_type, self.audio_type = video_type, audio_type

    def video(self, annexb: bytes, pts: int, dts: int, key: bool) -> bytes:
        out = bytearray(pack_header(dts))
        if key:
            out += system_header(self.audio_type is not None) + psm(self.video_type, self.audio_type)
        for i in range(0, len(annexb), MAX_PES_PAYLOAD):
            first = i == 0
            out += pes(
                VIDEO_ID, annexb[i : i + MAX_PES_PAYLOAD], pts if first else None, dts if first else None
            )
        return bytes(out)

    def audio(self, frame: bytes, pts: int) -> bytes:
        return pack_header(pts) + pes(AUDIO_ID, frame, pts)


@dataclass
class Frame:
    video: bool
    ms: int  # DTS
    data: bytes  # Annex B access unit or one audio frame (ADTS / G.711)
    cts: int = 0
    key: bool = False
    hevc: bool = False


def _avcc_to_annexb(data: bytes) -> bytes:
    out, i = bytearray(), 0
    while i + 4 <= len(data):
        n = int.from_bytes(data[i : i + 4], "big")
        out += b"\x00\x00\x00\x01" + data[i + 4 : i + 4 + n]
        i += 4 + n
    return bytes(out)


def _avc_params(record: bytes) -> bytes:
    """AVCDecoderConfigurationRecord -> its SPS and PPS in Annex B."""
    out, i = bytearray(), 6
    for count_mask in (0x1F, 0xFF):
        count = record[i - 1] & count_mask if count_mask == 0x1F else record[i]
        if count_mask == 0xFF:
            i += 1
        for _ in range(count):
            n = int.from_bytes(record[i : i + 2], "big")
            out += b"\x00\x00\x00\x01" + record[i + 2 : i + 2 + n]
            i += 2 + n
    return bytes(out)


def _adts(asc: bytes, raw: bytes) -> bytes:
    obj = asc[0] >> 3
    sr = ((asc[0] & 0x07) << 1) | (asc[1] >> 7)
    ch = (asc[1] >> 3) & 0x0F
    n = len(raw) + 7
    return (
        bytes(
            (
                0xFF,
                0xF1,
                ((obj - 1) << 6) | (sr << 2) | (ch >> 2),
                ((ch & 3) << 6) | (n >> 11),
                (n >> 3) & 0xFF,
                ((n & 7) << 5) | 0x1F,
                0xFC,
            )
        )
        + raw
    )


def _hvcc_params(record: bytes) -> bytes:
    """HEVCDecoderConfigurationRecord -> its VPS, SPS and PPS in Annex B."""
    out, i = bytearray(), 23
    for _ in range(record[22]):
        count = int.from_bytes(record[i + 1 : i + 3], "big")
        i += 3
        for _ in range(count):
            n = int.from_bytes(record[i : i + 2], "big")
            out += b"\x00\x00\x00\x01" + record[i + 2 : i + 2 + n]
            i += 2 + n
    return bytes(out)


def _ex_hevc(tag_data: bytes, params: bytes) -> tuple[bytes, Frame | None]:
    """An Enhanced RTMP ``hvc1`` video tag -> (parameter sets, the frame or None)."""
    key = (tag_data[0] >> 4) & 0x07 == 1
    ptype = tag_data[0] & 0x0F
    if ptype == 0:
        return _hvcc_params(tag_data[5:]), None
    if ptype == 1:
        cts, body = int.from_bytes(tag_data[5:8], "big", signed=True), tag_data[8:]
    elif ptype == 3:
        cts, body = 0, tag_data[5:]
    else:
        return params, None
    return params, Frame(True, 0, (params if key else b"") + _avcc_to_annexb(body), cts, key, hevc=True)


def flv_frames(path: Path) -> Iterator[Frame]:
    """H.264 or H.265 (Enhanced RTMP ``hvc1``) access units (parameter sets before each keyframe) and
    ADTS AAC frames of an FLV file."""
    params, asc = b"", b""
    for tag in iter_tags(path.read_bytes()):
        if tag.type == VIDEO and tag.data[:1] and tag.data[0] & 0x80 and tag.data[1:5] == b"hvc1":
            params, frame = _ex_hevc(tag.data, params)
            if frame is not None:
                frame.ms = tag.timestamp_ms
                yield frame
        elif tag.type == VIDEO and tag.data[:1] in (b"\x17", b"\x27"):
            if tag.data[1] == 0:
                params = _avc_params(tag.data[5:])
                continue
            key = tag.data[0] >> 4 == 1
            cts = int.from_bytes(tag.data[2:5], "big", signed=True)
            body = _avcc_to_annexb(tag.data[5:])
            yield Frame(True, tag.timestamp_ms, (params if key else b"") + body, cts, key)
        elif tag.type == AUDIO and tag.data[0] >> 4 == 10:
            if tag.data[1] == 0:
                asc = tag.data[2:]
            elif asc:
                yield Frame(False, tag.timestamp_ms, _adts(asc, tag.data[2:]))


def g711_frames(path: Path, *, codec: str = "pcm_alaw") -> list[Frame]:
    """The clip's audio as 8 kHz mono G.711 (PyAV), 20 ms (160-byte) frames."""
    import av

    samples = bytearray()
    with av.open(str(path)) as f:
        stream = f.streams.audio[0]
        rs = av.AudioResampler(format="s16", layout="mono", rate=8000)
        for frame in f.decode(stream):
            for r in rs.resample(frame):
                samples += bytes(r.planes[0])[: r.samples * 2]
    enc = av.CodecContext.create(codec, "w")
    assert isinstance(enc, av.AudioCodecContext)
    enc.sample_rate, enc.layout, enc.format = 8000, "mono", "s16"
    enc.open()
    out: list[Frame] = []
    step = 160 * 2
    for i in range(0, len(samples) - step + 1, step):
        fr = av.AudioFrame(format="s16", layout="mono", samples=160)
        fr.planes[0].update(bytes(samples[i : i + step]))
        fr.sample_rate = 8000
        data = b"".join(bytes(p) for p in enc.encode(fr))
        out.append(Frame(False, i // step * 20, data))
    return out


def ps_stream(path: Path, *, audio: str = "aac") -> Iterator[tuple[int, bytes]]:
    """(ms, PS bytes) of the clip in DTS order; ``audio``: "aac", "g711a" or "none"."""
    frames = list(flv_frames(path))
    if audio == "g711a":
        frames = [f for f in frames if f.video] + g711_frames(path)
    elif audio == "none":
        frames = [f for f in frames if f.video]
    frames.sort(key=lambda f: (f.ms, not f.video))
    hevc = any(f.hevc for f in frames)
    mux = PsMuxer(H265 if hevc else H264, {"aac": AAC, "g711a": G711A, "none": None}[audio])
    for f in frames:
        t = f.ms * 90
        if f.video:
            yield f.ms, mux.video(f.data, t + f.cts * 90 + 90 * 1000, t + 90 * 1000, f.key)
        else:
            yield f.ms, mux.audio(f.data, t + 90 * 1000)


def rtp_packets(ps: bytes, ms: int, seq: int, ssrc: int) -> list[bytes]:
    """One PS unit -> RTP packets (PT 96, 90 kHz, marker on the last); ``seq`` is the first number."""
    chunks = [ps[i : i + RTP_PAYLOAD] for i in range(0, len(ps), RTP_PAYLOAD)]
    out = []
    for i, c in enumerate(chunks):
        marker = 0x80 if i == len(chunks) - 1 else 0
        head = struct.pack(">BBHII", 0x80, marker | 96, (seq + i) & 0xFFFF, (ms * 90) & 0xFFFFFFFF, ssrc)
        out.append(head + c)
    return out


def rfc4571(packet: bytes) -> bytes:
    return struct.pack(">H", len(packet)) + packet


def gb_publish(api_port: int, device_id: str, ssrc: int) -> dict[str, object]:
    """The external SIP server's call: ``POST /gb/v1/publish/`` ``{id, ssrc}`` -> SRS's answer."""
    body = json.dumps({"id": device_id, "ssrc": str(ssrc)}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{api_port}/gb/v1/publish/", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as res:
        doc = json.loads(res.read())
    assert isinstance(doc, dict)
    return doc


def send_clip(
    media_port: int, ssrc: int, path: Path, *, audio: str = "aac", realtime: float = 1.0, seconds: float = 0
) -> int:
    """Connect to the media port and send the clip as PS/RTP/TCP, paced at ``realtime`` x (0: as fast as
    possible); stop after ``seconds`` of media (0: all). Returns the RTP packets sent."""
    sent, seq = 0, 1
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", media_port), timeout=10) as s:
        for ms, ps in ps_stream(path, audio=audio):
            if seconds and ms > seconds * 1000:
                break
            if realtime:
                delay = start + ms / 1000 / realtime - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            pkts = rtp_packets(ps, ms, seq, ssrc)
            seq += len(pkts)
            s.sendall(b"".join(rfc4571(p) for p in pkts))
            sent += len(pkts)
    return sent
