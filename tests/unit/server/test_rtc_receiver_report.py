"""Receiver statistics a WebRTC publisher session reports back (RFC 3550 6.4.1 / A.3)."""

from __future__ import annotations

from srs.server.rtc.publish import _Received


def test_report_block_counts_loss_and_times_the_last_sr() -> None:
    r = _Received()
    for seq in [65530, 65531, 65533, 65534, 65535, 0, 1, 3]:  # 65532 and 2 lost, across the wrap
        r.on_packet(seq)
    r.on_packet(65531)  # a duplicate after a reorder: counted, not a new high
    b = r.block(0x1234, 10_000)
    assert (b.ssrc, b.highest_seq & 0xFFFF, b.packets_lost) == (0x1234, 3, 10 - 9)
    assert b.lsr == 0 and b.dlsr == 0  # no SR yet
    r.lsr, r.lsr_at_ms = 0xAABBCCDD, 9_500
    for seq in range(4, 14):
        if seq != 10:
            r.on_packet(seq)
    b = r.block(0x1234, 10_000)
    assert b.packets_lost == 2 and b.fraction_lost == (1 << 8) // 10
    assert (b.lsr, b.dlsr) == (0xAABBCCDD, 500 * 65536 // 1000)
