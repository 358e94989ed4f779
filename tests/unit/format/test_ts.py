"""MPEG-TS muxer and demuxer: packet layout, PSI, PES timestamps, stuffing, resync."""

from __future__ import annotations

import pytest

from srs.format import ts
from srs.format.ts import PACKET_SIZE, StreamType, TsDemuxer, TsMuxer, TsStream, crc32_mpeg, packets

V = TsStream(ts.VIDEO_PID, StreamType.H264)
A = TsStream(ts.AUDIO_PID, StreamType.AAC)


def test_crc32_mpeg_check_value() -> None:
    assert crc32_mpeg(b"123456789") == 0x0376E6E7  # the CRC-32/MPEG-2 catalogue check value


def test_tables_are_what_srs_writes() -> None:
    data = TsMuxer([V, A]).tables()
    assert len(data) == 2 * PACKET_SIZE
    pat, pmt = list(packets(data))
    assert pat[:4] == bytes((0x47, 0x40, 0x00, 0x10))  # PUSI, PID 0, payload only, CC 0
    assert pmt[1:3] == bytes((0x50, 0x01))  # PID 0x1001
    d = TsDemuxer()
    assert d.feed(data) == [] and d.errors == 0
    assert d.pmt_pids == {0x1001}
    assert d.streams == {0x100: V, 0x101: A}


@pytest.mark.parametrize(
    ("pts", "dts"), [(0, None), (90_000, 90_000), (3003, 0), ((1 << 33) - 1, (1 << 33) - 2), (1 << 33, None)]
)
def test_pes_timestamps_round_trip(pts: int, dts: int | None) -> None:
    m = TsMuxer([V])
    d = TsDemuxer()
    frames = d.feed(m.tables() + m.frame(V.pid, b"\x00\x00\x00\x01\x65" + bytes(50), pts, dts, key=True))
    frames += d.flush()
    assert len(frames) == 1
    f = frames[0]
    assert f.pts == pts % (1 << 33) and f.dts == (dts if dts is not None else pts) % (1 << 33)
    assert f.random_access and f.stream_id == 0xE0


@pytest.mark.parametrize(
    "size", [0, 1, 100, 169, 170, 171, 172, 173, 182, 183, 184, 185, 350, 351, 352, 5000, 70_000]
)
def test_every_payload_size_packs_into_whole_packets(size: int) -> None:
    """The last packet is stuffed through the adaptation field, including the 1-byte case."""
    m = TsMuxer([V, A])
    payload = bytes(range(256)) * (size // 256 + 1)
    payload = payload[:size]
    out = m.frame(A.pid, payload, 1000)  # audio: no PCR, no adaptation field in the first packet
    out2 = m.frame(V.pid, payload, 1000, 900, key=True)  # video: PCR + random access
    for data in (out, out2):
        assert len(data) % PACKET_SIZE == 0
        assert all(p[0] == 0x47 for p in packets(data))
    d = TsDemuxer()
    frames = d.feed(m.tables() + out + out2) + d.flush()
    assert [f.payload for f in frames] == [payload, payload]
    assert d.errors == 0


def test_continuity_counters_and_pcr() -> None:
    m = TsMuxer([V, A])
    data = m.frame(V.pid, bytes(400), 9000, 6000, key=True) + m.frame(V.pid, bytes(10), 12000, 9000)
    ccs = [p[3] & 0x0F for p in packets(data)]
    assert ccs == list(range(len(ccs)))
    first = data[:PACKET_SIZE]
    assert first[3] & 0x20 and first[5] & 0x10  # adaptation field with a PCR
    pcr_base = (first[6] << 25) | (first[7] << 17) | (first[8] << 9) | (first[9] << 1) | (first[10] >> 7)
    assert pcr_base == 6000  # the DTS


def test_demuxer_resyncs_after_garbage_and_marks_loss() -> None:
    m = TsMuxer([V])
    a = m.frame(V.pid, bytes(1000), 0, key=True)
    b = m.frame(V.pid, b"\x11" * 1000, 3600)
    c = m.frame(V.pid, b"\x22" * 10, 7200)
    d = TsDemuxer()
    lost_packet = b[PACKET_SIZE : 2 * PACKET_SIZE]
    damaged = b.replace(lost_packet, b"", 1)
    frames = d.feed(m.tables() + b"garbage\x47\x00" + a + damaged + c) + d.flush()
    assert d.errors >= 1
    assert [f.pts for f in frames] == [0, 3600, 7200]
    assert frames[1].discontinuity and not frames[2].discontinuity
    assert frames[0].payload == bytes(1000) and frames[2].payload == b"\x22" * 10


def test_demuxer_feeds_byte_by_byte_like_at_once() -> None:
    m = TsMuxer([V, A])
    data = m.tables() + m.frame(V.pid, bytes(500), 0, key=True) + m.frame(A.pid, bytes(30), 10)
    d1, d2 = TsDemuxer(), TsDemuxer()
    whole = d1.feed(data) + d1.flush()
    pieces = [f for i in range(len(data)) for f in d2.feed(data[i : i + 1])] + d2.flush()
    assert whole == pieces and len(whole) == 2


def test_a_section_with_a_bad_crc_is_ignored() -> None:
    tables = bytearray(TsMuxer([V]).tables())
    tables[PACKET_SIZE + 10] ^= 0xFF  # inside the PMT section
    d = TsDemuxer()
    d.feed(bytes(tables))
    assert d.streams == {} and d.errors == 1
