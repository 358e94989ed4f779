"""support.rtc's SDP helpers on an SRS-style answer, and the ICE-TCP bridge (RFC 4571 framing)."""

from __future__ import annotations

import asyncio
import struct

from srs.protocol.rtc.dtls import generate_certificate
from srs.protocol.rtc.negotiate import AnswerOptions, PlayTrack, negotiate, tcp_candidate, udp_candidate
from srs.protocol.rtc.sdp import SessionDescription
from support.rtc import Candidate, TcpBridge, candidates, ice_credentials, rewrite_candidates

# an aiortc-like recvonly offer, trimmed
OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "c=IN IP4 0.0.0.0",
        "a=mid:0",
        "a=recvonly",
        "a=rtcp-mux",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:0123456789abcdef01234567",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "a=rtpmap:111 opus/48000/2",
        "m=video 9 UDP/TLS/RTP/SAVPF 106",
        "c=IN IP4 0.0.0.0",
        "a=mid:1",
        "a=recvonly",
        "a=rtcp-mux",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:0123456789abcdef01234567",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "a=rtpmap:106 H264/90000",
        "a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        "",
    ]
)


def srs_answer() -> str:
    opts = AnswerOptions(
        "srvufrag",
        "srvpwd",
        generate_certificate().fingerprint,
        [udp_candidate("127.0.0.1", 8000), tcp_candidate("127.0.0.1", 8001)],
        play_tracks=[PlayTrack("audio", 1, "a"), PlayTrack("video", 2, "v")],
    )
    return str(negotiate(SessionDescription.parse(OFFER), opts, publish=False).answer)


def test_candidates_and_rewrite() -> None:
    answer = srs_answer()
    cands = candidates(answer)
    assert Candidate("udp", "127.0.0.1", 8000, "host", None) in cands
    assert Candidate("tcp", "127.0.0.1", 8001, "host", "passive") in cands
    assert ice_credentials(answer) == ("srvufrag", "srvpwd")
    to_relay = candidates(rewrite_candidates(answer, "127.0.0.1", 9999))
    assert to_relay and {(c.protocol, c.port) for c in to_relay} == {("udp", 9999)}
    to_bridge = candidates(rewrite_candidates(answer, "127.0.0.1", 7777, protocol="tcp"))
    assert to_bridge and {(c.protocol, c.port) for c in to_bridge} == {("udp", 7777)}
    SessionDescription.parse(rewrite_candidates(answer, "127.0.0.1", 9999))  # still an SDP


async def test_tcp_bridge_frames_datagrams() -> None:
    got: list[bytes] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            (n,) = struct.unpack("!H", await reader.readexactly(2))
            data = await reader.readexactly(n)
            got.append(data)
            writer.write(struct.pack("!H", len(data) + 1) + data + b"!")
        await writer.drain()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    bridge = TcpBridge(server.sockets[0].getsockname()[:2])
    port = await bridge.start()
    replies: asyncio.Queue[bytes] = asyncio.Queue()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            replies.put_nowait(data)

    udp, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        Client, remote_addr=("127.0.0.1", port)
    )
    udp.sendto(b"\x00\x01stun")
    udp.sendto(b"\x16dtls" * 100)
    async with asyncio.timeout(5):
        assert await replies.get() == b"\x00\x01stun!"
        assert await replies.get() == b"\x16dtls" * 100 + b"!"
    assert got == [b"\x00\x01stun", b"\x16dtls" * 100]
    udp.close()
    await bridge.close()
    server.close()
