"""Fuzz the WebRTC -> live ingest: random and mutated RTP payloads, headers, sender reports and timers
never raise out of RtcIngest, and what comes out is always well-formed media on a non-negative timeline.

Seeds are real payloads: the clips' first frames packetized (H.264, H.265) and libopus packets.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from srs.media.message import AUDIO, VIDEO
from srs.protocol.rtc import payload_h264, payload_h265
from srs.protocol.rtc.rtp import RtpPacket
from srs.remux.rtc_in import RtcIngest
from srs.remux.rtmp import media_from_rtmp
from unit.protocol.rtc.payload_clips import access_units
from unit.remux.rtc_in_media import opus_packets

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _seeds() -> list[bytes]:
    out: list[bytes] = []
    for name, mod in (("bbb.flv", payload_h264), ("hevc.flv", payload_h265)):
        clip = access_units(name)
        for _, nalus in clip.frames[:3]:
            out += [
                p.payload[:80]
                for p in mod.packetize(nalus, parameter_sets=clip.parameter_sets, max_payload=300)
            ]
    return out + list(opus_packets()[:8])


SEEDS = _seeds()
# Whole access units (keyframe, P, P) of each codec, so that the video side also gets to emit.
FRAMES = {
    codec: [[p.payload for p in mod.packetize(n, parameter_sets=c.parameter_sets)] for _, n in c.frames[:3]]
    for codec, mod, c in (
        ("h264", payload_h264, access_units("bbb.flv")),
        ("h265", payload_h265, access_units("hevc.flv")),
    )
}


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=40))
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


OP = st.one_of(
    st.tuples(
        st.just("rtp"),
        st.sampled_from(["video", "audio", "data"]),
        st.integers(-3, 6),  # sequence step: reordering, duplicates, holes
        st.sampled_from([0, 960, 3600, 1 << 31, -960]),  # timestamp step
        st.booleans(),
        payloads(),
    ),
    st.tuples(
        st.just("sr"),
        st.sampled_from(["video", "audio"]),
        st.integers(0, (1 << 64) - 1),
        st.integers(0, (1 << 32) - 1),
    ),
    st.tuples(st.just("poll"), st.integers(0, 400)),
    st.tuples(st.just("frame"), st.integers(0, 2), st.integers(-1, 30), st.integers(0, 255)),
)


@FUZZ
@given(
    codec=st.sampled_from(["h264", "h265", None]),
    has_audio=st.booleans(),
    transcode=st.booleans(),
    ts0=st.integers(0, (1 << 32) - 1),
    ops=st.lists(OP, max_size=60),
)
def test_rtc_ingest_never_raises(
    codec: str | None,
    has_audio: bool,
    transcode: bool,
    ts0: int,
    ops: list[tuple],  # type: ignore[type-arg]
) -> None:
    ing = RtcIngest(codec, has_audio, rtc_to_rtmp=transcode, start_timeout_ms=500)
    seq = {"video": 100, "audio": 65530, "data": 0}
    ts = {"video": ts0, "audio": ts0 ^ 0x5555, "data": 0}
    now = 1000
    out = []
    for op in ops:
        if op[0] == "rtp":
            _, kind, dseq, dts, marker, payload = op
            seq[kind] = (seq[kind] + dseq) & 0xFFFF
            ts[kind] = (ts[kind] + dts) & 0xFFFFFFFF
            now += 5
            pkt = RtpPacket(sequence_number=seq[kind], timestamp=ts[kind], marker=marker, payload=payload)
            out += ing.on_rtp(kind, pkt, now)
            ing.nack_list(kind, now)
        elif op[0] == "frame":  # a real access unit, one byte of it maybe changed
            _, index, at, byte = op
            pkts = FRAMES[codec or "h264"][index]
            ts["video"] = (ts["video"] + 3600) & 0xFFFFFFFF
            for i, p in enumerate(pkts):
                if i == at:
                    p = p[:-1] + bytes([byte])
                seq["video"] = (seq["video"] + 1) & 0xFFFF
                pkt = RtpPacket(
                    sequence_number=seq["video"], timestamp=ts["video"], marker=i == len(pkts) - 1, payload=p
                )
                out += ing.on_rtp("video", pkt, now)
            now += 40
            out += ing.poll(now)
        elif op[0] == "sr":
            ing.on_sender_report(op[1], op[2], op[3])
        else:
            now += op[1]
            out += ing.poll(now)
        ing.take_keyframe_request()
    out += ing.flush()
    event(
        f"messages out: {'video' if any(m.kind == VIDEO for m in out) else ''} {'audio' if any(m.kind == AUDIO for m in out) else ''}"
    )
    for m in out:
        assert m.kind in (AUDIO, VIDEO) and m.timestamp >= 0 and m.rtp is not None
        ref = media_from_rtmp(m.kind, m.timestamp, m.payload)
        assert ref is not None and (ref.sequence_header, ref.codec) == (m.sequence_header, m.codec)
