"""RTP/RTCP wire vectors for the unit and fuzz tests (hex, as they travel on the wire).

* ``*_HAND``: written by hand from the RFC 3550 / 4585 / 5104 / REMB / transport-cc layouts.
* ``CHROME_*``: Chrome packets as decoded by Wireshark (published in the olivermichel/webrtc-analysis
  test data): a transport-cc feedback with RTCP padding and RTP headers with one- and two-byte
  extensions (payload cut off by the capture).
* aiortc vectors are produced live in the tests (``aiortc.rtp`` serialisers).
"""

from __future__ import annotations


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# --- RTP -------------------------------------------------------------------------------------

RTP_MINIMAL_HAND = h("80 60 0001 00000002 00000003 cafe")  # pt 96 seq 1 ts 2 ssrc 3
# marker, pt 111, 2 CSRCs, padding of 3 (zeros then count)
RTP_CSRC_PADDING_HAND = h("a2 ef 1234 0000abcd 11223344 00000001 00000002 6869 000003")

CHROME_RTP_ONE_BYTE = h(
    "902d1a5f d4090549 f7b16e83 bede0003 22f34350 41009b d2810045 00"
)  # ids 2 (abs-send-time, 3B), 4 (transport-cc, 2B), 13 (3B), then a padding byte
CHROME_RTP_ONE_BYTE_MARKER = h(
    "90ad19d4 d405e797 f7b16e83 bede0008 22ea432b 410004 9030 3000 6002"
    " 7c0100030009000a0023000000 00 d2400001 00"
)
CHROME_RTP_TWO_BYTE = h(
    "902d61c5 950a0fee 8d3814e5 10000011 020303f7ae 04020002 090130 030100 060102"
    " 070d01000100070007000a00000000"
    " 0d21c000018003187aaaf130a0a014d1413823046008642222265009f0077013f00ef0"
)

RTP_VECTORS = [
    RTP_MINIMAL_HAND,
    RTP_CSRC_PADDING_HAND,
    CHROME_RTP_ONE_BYTE,
    CHROME_RTP_ONE_BYTE_MARKER,
    CHROME_RTP_TWO_BYTE,
]

# --- RTCP ------------------------------------------------------------------------------------

SR_HAND = h(
    "81c8000c 12345678 e1a2b3c4d5e6f708 00015f90 00000064 00002710"
    " 87654321 40 fffffe 0001ffff 00000020 b3c4d5e6 00010000"
)
RR_EMPTY_HAND = h("80c90001 12345678")
SDES_CNAME_HAND = h("81ca0003 12345678 0103616263 000000")  # CNAME "abc"
BYE_REASON_HAND = h("81cb0002 12345678 03627965")  # reason "bye"
APP_HAND = h("85cc0003 12345678 4e414d45 deadbeef")  # subtype 5, name "NAME"
NACK_HAND = h("81cd0004 00000001 12345678 00640005 00c80000")  # lost 100 101 103 200
PLI_HAND = h("81ce0002 00000001 12345678")
PLI_PADDED_HAND = h("a1ce0003 00000001 12345678 00000004")
FIR_HAND = h("84ce0004 00000001 00000000 12345678 07000000")  # ssrc 0x12345678, seq 7
REMB_HAND = h("8fce0005 00000001 00000000 52454d42 01 0bd090 12345678")  # 1 Mbps = 250000 << 2
XR_UNKNOWN_HAND = h("80cf0002 12345678 deadbeef")  # PT 207 kept opaque
RTPFB_UNKNOWN_FMT_HAND = h("83cd0003 00000001 12345678 01020304")  # RTPFB FMT 3 (TMMBR)
# transport-cc: base 65534, 5 packets [small, lost, large(-2 ms), small, lost], ref 1 (64 ms),
# fb count 7, one 2-bit status vector chunk, padded with the P bit
TWCC_HAND = h("afcd0006 00000001 12345678 fffe0005 00000107 d240 04 fff8 10 0002")
CHROME_TWCC = h("afcd0007 00000001 dd586eb6 00010009 5e911000 2009 1c0c2c3800040008 18 01")

RTCP_VECTORS = [
    SR_HAND,
    RR_EMPTY_HAND,
    SDES_CNAME_HAND,
    BYE_REASON_HAND,
    APP_HAND,
    NACK_HAND,
    PLI_HAND,
    PLI_PADDED_HAND,
    FIR_HAND,
    REMB_HAND,
    XR_UNKNOWN_HAND,
    RTPFB_UNKNOWN_FMT_HAND,
    TWCC_HAND,
    CHROME_TWCC,
]
