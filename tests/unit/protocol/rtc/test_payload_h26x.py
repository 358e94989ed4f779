"""H.264 (RFC 6184) and H.265 (RFC 7798) RTP payloads: case tables, clip round trips, loss and reordering."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srs.codec import nalu as nalu_mod
from srs.protocol.rtc import payload_h264 as h264
from srs.protocol.rtc import payload_h265 as h265
from srs.protocol.rtc.payload import Fragment, Frame, FrameAssembler, PayloadPacket
from srs.util.errors import LocalProtocolError, ParseError
from unit.protocol.rtc.payload_clips import access_units

SPS = bytes.fromhex("6742c01e") + b"\x11" * 10
PPS = bytes.fromhex("68ce3c80")
IDR = bytes([0x65]) + bytes(range(256)) * 12  # 3073 bytes
P = bytes([0x41, 0x9A, 0x02, 0x03])
SEI = bytes([0x06, 0x05, 0x01, 0x80])

VPS = bytes([0x40, 0x01]) + b"\x0c" * 20
HSPS = bytes([0x42, 0x01]) + b"\x01" * 30
HPPS = bytes([0x44, 0x01, 0xC1, 0x72])
HIDR = bytes([0x26, 0x01]) + bytes(range(256)) * 10  # IDR_W_RADL (19)
HTRAIL = bytes([0x02, 0x01, 0xD0, 0x09])  # TRAIL_R (1)


# ---- packetizers -------------------------------------------------------------------------------------

PACKETIZE_CASES: list[tuple[str, Callable[[], list[PayloadPacket]], list[bytes]]] = [
    ("h264 single NALU", lambda: h264.packetize([P]), [P]),
    ("h264 SEI + P as two single NALUs", lambda: h264.packetize([SEI, P]), [SEI, P]),
    (
        "h264 STAP-A of SPS+PPS before an IDR (from the sequence header)",
        lambda: h264.packetize([SEI, P], parameter_sets=[SPS, PPS]),  # no IDR: no parameter sets
        [SEI, P],
    ),
    (
        "h264 SPS/PPS in the access unit are aggregated too",
        lambda: h264.packetize([SPS, PPS, P]),
        [bytes([0x78]) + b"\x00\x0e" + SPS + b"\x00\x04" + PPS, P],
    ),
    (
        "h264 FU-A fragments of 10 bytes",
        lambda: h264.packetize([IDR[:25]], max_payload=10),
        [
            bytes([0x7C, 0x85]) + IDR[1:9],
            bytes([0x7C, 0x05]) + IDR[9:17],
            bytes([0x7C, 0x45]) + IDR[17:25],
        ],
    ),
    ("h264 empty NALUs skipped", lambda: h264.packetize([b"", P, b""]), [P]),
    ("h264 empty access unit", lambda: h264.packetize([]), []),
    ("h265 single NALU", lambda: h265.packetize([HTRAIL]), [HTRAIL]),
    (
        "h265 AP of VPS+SPS+PPS in the access unit",
        lambda: h265.packetize([VPS, HSPS, HPPS, HTRAIL]),
        [bytes([0x60, 0x01]) + b"\x00\x16" + VPS + b"\x00\x20" + HSPS + b"\x00\x04" + HPPS, HTRAIL],
    ),
    (
        "h265 FU fragments of 10 bytes (3-byte header)",
        lambda: h265.packetize([HIDR[:16]], max_payload=10),
        [
            bytes([0x62, 0x01, 0x93]) + HIDR[2:9],
            bytes([0x62, 0x01, 0x53]) + HIDR[9:16],
        ],
    ),
]


@pytest.mark.parametrize(("name", "make", "payloads"), PACKETIZE_CASES, ids=[c[0] for c in PACKETIZE_CASES])
def test_packetize(name: str, make: Callable[[], list[PayloadPacket]], payloads: list[bytes]) -> None:
    got = make()
    assert [p.payload for p in got] == payloads
    assert [p.marker for p in got] == [i == len(payloads) - 1 for i in range(len(payloads))]


def test_h264_idr_gets_parameter_sets_first() -> None:
    pkts = h264.packetize([SEI, IDR], parameter_sets=[SPS, PPS])
    assert pkts[0].payload == bytes([0x78]) + b"\x00\x0e" + SPS + b"\x00\x04" + PPS
    assert pkts[1].payload == SEI
    assert [p.payload[1] & 0xC0 for p in pkts[2:]] == [0x80, 0, 0x40]  # S, -, E
    assert all(len(p.payload) <= h264.MAX_PAYLOAD for p in pkts)
    # An IDR that carries its own SPS/PPS gets no second copy.
    own = h264.packetize([SPS, PPS, IDR], parameter_sets=[SPS, PPS])
    assert sum(p.payload[0] & 0x1F == h264.STAP_A for p in own) == 1


def test_h265_irap_gets_parameter_sets_first() -> None:
    pkts = h265.packetize([HIDR], parameter_sets=[VPS, HSPS, HPPS])
    assert h265.nalu_type(pkts[0].payload) == h265.AP
    assert h265.parse_payload(pkts[0].payload) == [VPS, HSPS, HPPS]
    assert h265.packetize([HTRAIL], parameter_sets=[VPS, HSPS, HPPS])[0].payload == HTRAIL


def test_max_payload_too_small() -> None:
    with pytest.raises(LocalProtocolError):
        h264.packetize([P], max_payload=2)
    with pytest.raises(LocalProtocolError):
        h265.packetize([HTRAIL], max_payload=3)


# ---- payload parsers ---------------------------------------------------------------------------------

PARSE_CASES: list[tuple[str, ModuleType, bytes, list[bytes | Fragment] | None]] = [
    ("h264 single", h264, P, [P]),
    ("h264 STAP-A", h264, bytes([0x78, 0, 4]) + P + bytes([0, 4]) + SEI, [P, SEI]),
    ("h264 FU-A start", h264, bytes([0x7C, 0x85, 1, 2]), [Fragment(True, False, b"\x65", b"\x01\x02")]),
    ("h264 FU-A middle", h264, bytes([0x7C, 0x05, 3]), [Fragment(False, False, b"\x65", b"\x03")]),
    ("h264 FU-A end", h264, bytes([0x5C, 0x41, 4]), [Fragment(False, True, b"\x41", b"\x04")]),
    ("h264 empty", h264, b"", None),
    ("h264 type 0", h264, b"\x00\x01", None),
    ("h264 STAP-B", h264, b"\x19\x00\x00", None),
    ("h264 MTAP16", h264, b"\x1a\x00", None),
    ("h264 MTAP24", h264, b"\x1b\x00", None),
    ("h264 FU-B", h264, b"\x1d\x85\x00\x00", None),
    ("h264 type 30", h264, b"\x1e", None),
    ("h264 STAP-A truncated size", h264, b"\x78\x00", None),
    ("h264 STAP-A size past end", h264, b"\x78\x00\x05\x41", None),
    ("h264 STAP-A zero size", h264, b"\x78\x00\x00", None),
    ("h264 STAP-A empty", h264, b"\x78", None),
    ("h264 FU-A without FU header", h264, b"\x7c", None),
    ("h265 single", h265, HTRAIL, [HTRAIL]),
    ("h265 AP", h265, bytes([0x60, 1, 0, 4]) + HTRAIL + bytes([0, 4]) + HPPS, [HTRAIL, HPPS]),
    ("h265 FU start", h265, bytes([0x62, 0x01, 0x93, 9]), [Fragment(True, False, b"\x26\x01", b"\x09")]),
    ("h265 FU end", h265, bytes([0x62, 0x01, 0x41, 9]), [Fragment(False, True, b"\x02\x01", b"\x09")]),
    ("h265 one byte", h265, b"\x02", None),
    ("h265 AP NALU shorter than its header", h265, bytes([0x60, 1, 0, 1, 2]), None),
    ("h265 FU without FU header", h265, bytes([0x62, 0x01]), None),
    ("h265 PACI", h265, bytes([0x64, 0x01, 0, 0]), None),
]


@pytest.mark.parametrize(("name", "mod", "data", "want"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_parse_payload(name: str, mod: ModuleType, data: bytes, want: list[bytes | Fragment] | None) -> None:
    if want is None:
        with pytest.raises(ParseError):
            mod.parse_payload(data)
    else:
        assert mod.parse_payload(data) == want


@pytest.mark.parametrize(
    ("mod", "nalus", "key"),
    [
        (h264, [SEI, IDR], True),
        (h264, [SPS, PPS, P], True),
        (h264, [SEI, P], False),
        (h265, [HIDR], True),
        (h265, [bytes([0x2A, 0x01])], True),  # CRA (21)
        (h265, [VPS, HSPS, HPPS, HTRAIL], False),
        (h265, [HTRAIL], False),
    ],
)
def test_is_keyframe(mod: ModuleType, nalus: list[bytes], key: bool) -> None:
    assert mod.is_keyframe(nalus) is key


# ---- assembler ---------------------------------------------------------------------------------------


def rtp(
    mod: ModuleType, aus: Sequence[tuple[int, Sequence[bytes]]], seq0: int = 100, **kw: object
) -> list[tuple]:
    """Access units -> (seq, timestamp, marker, payload) in sending order."""
    out = []
    seq = seq0
    for ts, nalus in aus:
        for p in mod.packetize(nalus, **kw):
            out.append((seq & 0xFFFF, ts, p.marker, p.payload))
            seq += 1
    return out


def run(a: FrameAssembler, pkts: Sequence[tuple], flush: bool = True) -> list[Frame]:
    out: list[Frame] = []
    for i, (seq, ts, marker, payload) in enumerate(pkts):
        out += a.push(seq, ts, marker, payload, arrival_ms=i)
    return out + (a.flush() if flush else [])


KEY = (3000, [SPS, PPS, IDR])
AU2 = (6000, [SEI, P])
AU3 = (9000, [P])


def test_in_order() -> None:
    frames = run(h264.assembler(), rtp(h264, [KEY, AU2, AU3], max_payload=500))
    assert [(f.timestamp, f.nalus, f.keyframe) for f in frames] == [
        (3000, [SPS, PPS, IDR], True),
        (6000, [SEI, P], False),
        (9000, [P], False),
    ]


def test_frame_ends_at_timestamp_change_without_marker() -> None:
    pkts = [(s, ts, False, p) for s, ts, _, p in rtp(h264, [KEY, AU2])]
    a = h264.assembler(max_wait_ms=0)
    frames = run(a, pkts, flush=False)
    assert [f.timestamp for f in frames] == [3000]  # the last one waits for a marker or the next ts
    assert [f.timestamp for f in a.flush()] == [6000]


def test_empty_payloads_never_flush_the_frame() -> None:
    pkts = rtp(h264, [KEY, AU2], max_payload=1000)
    # Chrome screen share: padding-only packets, even with another timestamp and the marker bit.
    with_padding = []
    for i, (_s, ts, m, p) in enumerate(pkts):
        with_padding += [(2 * i, ts, m, p), (2 * i + 1, ts + 1, True, b"")]
    frames = run(h264.assembler(), with_padding)
    assert [f.nalus for f in frames] == [KEY[1], AU2[1]]


def test_loss_drops_the_frame_and_asks_for_a_keyframe() -> None:
    pkts = rtp(h264, [KEY, AU2, AU3, KEY, AU2], max_payload=1000)
    # The IDR is split in 4 FU-A packets (1 STAP-A first); lose packet 2 of the first IDR.
    a = h264.assembler(max_wait_ms=0)
    frames = run(a, pkts[:2] + pkts[3:])
    assert [f.timestamp for f in frames] == [3000, 6000]  # the second KEY (same ts) then its AU2
    assert frames[0].keyframe
    assert a.stats.dropped == 3 and a.jitter.stats.lost == 1
    assert a.take_keyframe_request() is True
    assert a.take_keyframe_request() is False


def test_waits_for_the_first_keyframe() -> None:
    pkts = rtp(h264, [AU2, AU3, KEY, AU2])
    assert [f.timestamp for f in run(h264.assembler(), pkts)] == [3000, 6000]
    assert [f.timestamp for f in run(h264.assembler(wait_keyframe=False), pkts)] == [6000, 9000, 3000, 6000]


def test_fu_without_start_is_dropped() -> None:
    pkts = rtp(h264, [KEY, AU3], max_payload=1000)
    pkts = [pkts[0]] + [(s, ts, m, bytes([0x7C, 0x05]) + b"x") for s, ts, m, p in pkts[1:2]] + pkts[2:]
    a = h264.assembler(wait_keyframe=False)
    assert [f.timestamp for f in run(a, pkts)] == [9000]


def test_garbage_payload_drops_the_frame() -> None:
    pkts = rtp(h264, [KEY, AU2, AU3])
    pkts[-2] = (pkts[-2][0], 6000, True, b"\x19garbage")
    a = h264.assembler(wait_keyframe=False)
    assert [f.timestamp for f in run(a, pkts)] == [3000, 9000]
    assert a.stats.malformed == 1


def test_duplicates_and_wraparound() -> None:
    pkts = rtp(h264, [KEY, AU2, AU3, (12000, [P])], seq0=65533, max_payload=800)
    assert pkts[0][0] == 65533 and pkts[-1][0] < 10
    dup = [p for p in pkts for _ in range(2)]
    assert [f.timestamp for f in run(h264.assembler(), dup)] == [3000, 6000, 9000, 12000]


def test_nack_list_then_recovery() -> None:
    pkts = rtp(h264, [KEY, AU2], max_payload=1000)
    a = h264.assembler(max_wait_ms=100, nack_after_ms=10, start_hold_ms=0)
    a.push(*pkts[0], arrival_ms=0)
    a.push(*pkts[2], arrival_ms=5)
    assert a.nack_list(10) == []
    assert a.nack_list(15) == [pkts[1][0]]
    out = []
    for p in pkts[3:]:
        out += a.push(*p, arrival_ms=20)
    out += a.push(*pkts[1], arrival_ms=40)  # the retransmission
    assert [f.nalus for f in out] == [KEY[1], AU2[1]]
    assert a.nack_list(50) == []


def test_poll_gives_up_after_max_wait() -> None:
    pkts = rtp(h264, [KEY, AU2, AU3], max_payload=1000)
    a = h264.assembler(max_wait_ms=100)
    out = []
    for p in pkts[:-2] + pkts[-1:]:
        out += a.push(*p, arrival_ms=0)
    assert out == [] and a.poll(99) == []  # the start is held max_wait_ms, the hole too
    # AU2's only packet is lost; AU3 follows right after it and is dropped (waiting for a keyframe).
    assert [f.timestamp for f in a.poll(100)] == [3000]
    assert a.jitter.stats.lost == 1 and a.keyframe_request


def test_start_hold_lets_an_early_packet_arrive_late() -> None:
    pkts = rtp(h264, [KEY, AU2], max_payload=1000)
    a = h264.assembler(max_wait_ms=50)
    out = []
    for i, p in enumerate(pkts[1:3] + pkts[:1] + pkts[3:]):
        out += a.push(*p, arrival_ms=10 * i)
    out += a.poll(1000)
    assert [f.nalus for f in out] == [KEY[1], AU2[1]]


# ---- real clips ------------------------------------------------------------------------------------

CODECS = [("bbb.flv", h264), ("hevc.flv", h265)]


@pytest.mark.parametrize(("name", "mod"), CODECS)
@pytest.mark.parametrize("mtu", [1200, 300])
def test_clip_round_trip(name: str, mod: ModuleType, mtu: int) -> None:
    clip = access_units(name)
    aus = [(ts * 90, list(n)) for ts, n in clip.frames]
    pkts = rtp(mod, aus, max_payload=mtu, parameter_sets=clip.parameter_sets)
    assert all(len(p[3]) <= mtu for p in pkts)
    assert sum(p[2] for p in pkts) == len(aus)
    assert any(mod.nalu_type(p[3]) in (h264.FU_A, h265.FU) for p in pkts)
    frames = run(mod.assembler(), pkts)
    assert len(frames) == len(aus)
    for f, (ts, nalus) in zip(frames, aus, strict=True):
        assert f.timestamp == ts
        extra = list(clip.parameter_sets) if mod.is_keyframe(nalus) else []
        assert f.nalus == extra + nalus
        assert f.keyframe == mod.is_keyframe(nalus)
    # Every keyframe starts with the aggregation packet of the parameter sets.
    keys = {ts for ts, n in aus if mod.is_keyframe(n)}
    firsts = {}
    for _seq, ts, _, p in pkts:
        firsts.setdefault(ts, p)
    assert keys and all(mod.parse_payload(firsts[ts]) == list(clip.parameter_sets) for ts in keys)


def shuffle_window(items: list, rng: random.Random, window: int) -> list:
    """Reorder, each item moving at most ``window`` places."""
    keyed = sorted(enumerate(items), key=lambda kv: kv[0] + rng.uniform(0, window))
    return [v for _, v in keyed]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), window=st.integers(0, 30), seq0=st.integers(0, 65535))
def test_clip_reordered_and_duplicated(seed: int, window: int, seq0: int) -> None:
    rng = random.Random(seed)
    name, mod = CODECS[seed % 2]
    clip = access_units(name)
    aus = [(ts * 90, list(n)) for ts, n in clip.frames[:40]]
    pkts = rtp(mod, aus, seq0=seq0, parameter_sets=clip.parameter_sets)
    pkts += [rng.choice(pkts) for _ in range(len(pkts) // 10)]  # duplicates, anywhere
    frames = run(mod.assembler(max_wait_ms=10_000), shuffle_window(pkts, rng, window))
    assert [f.timestamp for f in frames] == [ts for ts, _ in aus]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), loss=st.floats(0.001, 0.2))
def test_clip_with_loss_never_gives_a_broken_frame(seed: int, loss: float) -> None:
    rng = random.Random(seed)
    name, mod = CODECS[seed % 2]
    clip = access_units(name)
    aus = [(ts * 90, list(n)) for ts, n in clip.frames[:60]]
    pkts = rtp(mod, aus, seq0=seed & 0xFFFF, parameter_sets=clip.parameter_sets, max_payload=600)
    kept = [p for p in pkts if rng.random() >= loss]
    a = mod.assembler(max_wait_ms=0)
    frames = run(a, shuffle_window(kept, rng, 3))
    want = {ts: (list(clip.parameter_sets) if mod.is_keyframe(n) else []) + n for ts, n in aus}
    for f in frames:
        assert f.nalus == want[f.timestamp]
    if len(kept) < len(pkts):
        assert a.keyframe_request


# ---- aiortc cross-check -----------------------------------------------------------------------------


def test_aiortc_depayloads_ours() -> None:
    from aiortc.codecs.h264 import h264_depayload

    clip = access_units("bbb.flv")
    for _ts, nalus in clip.frames[:30]:
        pkts = h264.packetize(nalus, parameter_sets=clip.parameter_sets)
        annexb = b"".join(h264_depayload(p.payload) for p in pkts)
        extra = list(clip.parameter_sets) if h264.is_keyframe(nalus) else []
        assert annexb == nalu_mod.to_annexb(extra + list(nalus))


def test_we_depayload_aiortc() -> None:
    from aiortc.codecs.h264 import PACKET_MAX, H264Encoder

    clip = access_units("bbb.flv")
    a = h264.assembler(wait_keyframe=False, max_wait_ms=0)
    seq = 0
    for ts, nalus in clip.frames[:30]:
        payloads = H264Encoder._packetize(list(nalus))
        assert all(len(p) <= PACKET_MAX for p in payloads)
        frames: list[Frame] = []
        for i, p in enumerate(payloads):
            frames += a.push(seq, ts, i == len(payloads) - 1, p)
            seq += 1
        assert [f.nalus for f in frames] == [list(nalus)]
