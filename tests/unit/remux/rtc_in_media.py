"""RTP input for the WebRTC -> live tests, made from real media: the shared clips' video packetized as a
browser would (payload_h264 / payload_h265), Opus encoded with PyAV's libopus from the clip's audio; a
network model (reordering, duplicates, loss, padding) and a runner that feeds :class:`RtcIngest`."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import av

from srs.media.message import MediaMessage
from srs.protocol.rtc import payload_h264, payload_h265
from srs.protocol.rtc.rtp import RtpPacket
from srs.remux.flv import FlvWire
from srs.remux.rtc_in import RtcIngest
from support.media import clip
from unit.protocol.rtc.payload_clips import access_units

VIDEO_SSRC, AUDIO_SSRC = 0x1111, 0x2222


@dataclass(frozen=True)
class Sent:
    """One RTP packet on the wire: when it arrives, which track, and which frame it belongs to."""

    arrival_ms: int
    kind: str
    pkt: RtpPacket
    frame: int = -1  # video: index of the clip's access unit


@cache
def opus_packets(name: str = "bbb.flv", layout: str = "stereo") -> tuple[bytes, ...]:
    """The clip's audio, resampled to 48 kHz and encoded to 20 ms Opus packets by libopus."""
    enc = av.CodecContext.create("libopus", "w")
    assert isinstance(enc, av.AudioCodecContext)
    enc.sample_rate = 48000
    enc.layout = layout
    enc.format = "s16"
    enc.bit_rate = 64000
    enc.open()
    res = av.AudioResampler(format="s16", layout=layout, rate=48000, frame_size=960)
    out: list[bytes] = []
    with av.open(str(clip(name))) as c:
        for frame in c.decode(audio=0):
            frame.pts = None
            for f in res.resample(frame):
                out += [bytes(p) for p in enc.encode(f)]
    for f in res.resample(None):
        out += [bytes(p) for p in enc.encode(f)]
    out += [bytes(p) for p in enc.encode(None)]
    return tuple(p for p in out if p)


def video_packets(name: str, codec: str, *, ts0: int = 12345, seq0: int = 1000) -> list[Sent]:
    """Every access unit of the clip as RTP (90 kHz), arriving at its media time."""
    au = access_units(name)
    mod = payload_h264 if codec == "h264" else payload_h265
    out: list[Sent] = []
    seq = seq0
    for i, (ms, nalus) in enumerate(au.frames):
        for p in mod.packetize(nalus, parameter_sets=au.parameter_sets):
            pkt = RtpPacket(
                payload_type=102,
                sequence_number=seq & 0xFFFF,
                timestamp=(ts0 + ms * 90) & 0xFFFFFFFF,
                ssrc=VIDEO_SSRC,
                marker=p.marker,
                payload=p.payload,
            )
            out.append(Sent(ms, "video", pkt, i))
            seq += 1
    return out


def audio_packets(
    packets: Sequence[bytes], *, ts0: int = 777, seq0: int = 50000, start_ms: int = 0
) -> list[Sent]:
    """Opus packets as RTP (48 kHz, 20 ms each), arriving at their media time."""
    return [
        Sent(
            start_ms + i * 20,
            "audio",
            RtpPacket(
                payload_type=111,
                sequence_number=(seq0 + i) & 0xFFFF,
                timestamp=(ts0 + i * 960) & 0xFFFFFFFF,
                ssrc=AUDIO_SSRC,
                payload=p,
            ),
        )
        for i, p in enumerate(packets)
    ]


def merge(*tracks: list[Sent]) -> list[Sent]:
    return sorted((s for t in tracks for s in t), key=lambda s: s.arrival_ms)


def impair(
    sent: list[Sent],
    *,
    seed: int = 1,
    reorder: float = 0.0,
    delay_ms: int = 40,
    duplicate: float = 0.0,
    drop: Callable[[Sent], bool] = lambda s: False,
) -> list[Sent]:
    """A network: ``reorder`` of the packets arrive ``delay_ms`` late, ``duplicate`` twice, ``drop`` never."""
    rng = random.Random(seed)
    out: list[Sent] = []
    for s in sent:
        if drop(s):
            continue
        late = rng.random() < reorder
        out.append(replace(s, arrival_ms=s.arrival_ms + (delay_ms if late else 0)))
        if rng.random() < duplicate:
            out.append(replace(s, arrival_ms=s.arrival_ms + rng.randint(1, delay_ms)))
    return sorted(out, key=lambda s: s.arrival_ms)


def run(ing: RtcIngest, sent: list[Sent], *, t0: int = 100_000) -> list[MediaMessage]:
    """Feed packets at their arrival times (polling before each, every 20 ms), then flush."""
    out: list[MediaMessage] = []
    now = t0
    for s in sent:
        while now + 20 < t0 + s.arrival_ms:
            now += 20
            out += ing.poll(now)
        now = max(now, t0 + s.arrival_ms)
        out += ing.poll(now)
        out += ing.on_rtp(s.kind, s.pkt, now)
    for _ in range(10):
        now += 20
        out += ing.poll(now)
    return out + ing.flush()


def write_flv(msgs: list[MediaMessage], path: Path) -> Path:
    wire = FlvWire(True, True, False)
    path.write_bytes(wire.preamble + b"".join(wire.encode(m) for m in msgs))
    return path
