"""Fuzz the RTP payload formats: parsers raise only SrsError; assemblers and the reorder buffer never raise.

Seeds are the case tables of ``tests/unit/protocol/rtc`` and real payloads packetized from the clips.
"""

from __future__ import annotations

import os
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srs.protocol.rtc import payload_h264, payload_h265, payload_opus, payload_vp8
from srs.protocol.rtc.payload import Fragment, ReorderBuffer
from srs.util.errors import SrsError
from unit.protocol.rtc import test_payload_h26x as h26x
from unit.protocol.rtc import test_payload_opus as opus_cases
from unit.protocol.rtc import test_payload_vp8 as vp8_cases
from unit.protocol.rtc.payload_clips import access_units

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _seeds(mod: ModuleType, name: str) -> list[bytes]:
    clip = access_units(name)
    out = [c[2] for c in h26x.PARSE_CASES if c[1] is mod and c[2]]
    for _, nalus in clip.frames[:3]:
        out += [
            p.payload[:64] for p in mod.packetize(nalus, parameter_sets=clip.parameter_sets, max_payload=200)
        ]
    return out


SEEDS = {
    payload_h264: _seeds(payload_h264, "bbb.flv"),
    payload_h265: _seeds(payload_h265, "hevc.flv"),
    payload_vp8: [c[0] for c in vp8_cases.CASES],
}


def mutations(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(0, 4))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(data)))
        return bytes(data[:cut]) + draw(st.binary(max_size=8))

    return st.one_of(st.binary(max_size=64), mutate())


@pytest.mark.parametrize("mod", [payload_h264, payload_h265, payload_vp8], ids=["h264", "h265", "vp8"])
@FUZZ
@given(data=st.data())
def test_parse_payload(mod: ModuleType, data: st.DataObject) -> None:
    payload = data.draw(mutations(SEEDS[mod]))
    try:
        units = mod.parse_payload(payload)
    except SrsError:
        return
    assert units
    for u in units:
        assert isinstance(u, bytes | Fragment)


@pytest.mark.parametrize("mod", [payload_h264, payload_h265, payload_vp8], ids=["h264", "h265", "vp8"])
@FUZZ
@given(data=st.data())
def test_assembler(mod: ModuleType, data: st.DataObject) -> None:
    """Random packets (mutated payloads, random seq/ts/marker, empty ones) never raise."""
    packet = st.tuples(
        st.integers(0, 40), st.sampled_from([0, 3000, 6000]), st.booleans(), mutations(SEEDS[mod] + [b""])
    )
    base = data.draw(st.integers(0, 65535))
    a = mod.assembler(wait_keyframe=data.draw(st.booleans()), max_wait_ms=data.draw(st.integers(0, 20)))
    now = 0
    for off, ts, marker, payload in data.draw(st.lists(packet, max_size=30)):
        now += 3
        for f in a.push((base + off) & 0xFFFF, ts, marker, payload, now) + a.poll(now):
            assert f.nalus and all(f.nalus)
            if mod is payload_vp8:
                payload_vp8.frame_data(f.nalus)
        a.nack_list(now)
    a.flush()


@FUZZ
@given(st.one_of(st.binary(max_size=4), st.sampled_from([c[1] for c in opus_cases.CASES])))
def test_opus(packet: bytes) -> None:
    try:
        n = payload_opus.packet_samples(packet)
    except SrsError:
        return
    assert 120 <= n <= 5760


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 50), st.booleans()), max_size=80),
    st.integers(1, 300),
)
def test_reorder_buffer(pushes: list[tuple[int, int, bool]], capacity: int) -> None:
    rb = ReorderBuffer(max_wait_ms=30, capacity=capacity)
    now = 0
    for seq, dt, poll in pushes:
        now += dt
        rb.push(seq, 0, b"", now)
        if poll:
            rb.poll(now)
        assert len(rb) <= capacity
    rb.flush()
    assert len(rb) == 0
