"""bench/whep_client.py's ICE + DTLS + SRTP path against our own server-side objects (IceSessions,
DtlsEndpoint("server"), SrtpSession) on a real loopback UDP socket; the offer is negotiated by
srs.protocol.rtc.negotiate as the server will."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from srs.protocol.rtc.dtls import DtlsEndpoint, generate_certificate
from srs.protocol.rtc.ice import IceSession, IceSessions, PacketKind, classify
from srs.protocol.rtc.negotiate import AnswerOptions, PlayTrack, negotiate, udp_candidate
from srs.protocol.rtc.rtp import RtpPacket
from srs.protocol.rtc.sdp import SessionDescription
from srs.protocol.rtc.srtp import SrtpSession
from support.lossy import Impairment, LossyRelay
from support.rtc import rewrite_candidates
from whep_client import WhepSession, parse_answer


class MiniServer(asyncio.DatagramProtocol):
    """ICE-lite + DTLS server + SRTP, one session: what src/srs/server/rtc does, minus the rest."""

    def __init__(self) -> None:
        self.cert = generate_certificate()
        self.ice = IceSessions()
        self.dtls: DtlsEndpoint | None = None
        self.srtp: SrtpSession | None = None
        self.peer: tuple[str, int] | None = None
        self.ready = asyncio.Event()
        self.stun_checks = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def answer(self, offer: str, port: int) -> str:
        sdp = SessionDescription.parse(offer)
        opts = AnswerOptions(
            "srvufrag",
            "srvpwd0123456789abcdef01",
            self.cert.fingerprint,
            [udp_candidate("127.0.0.1", port)],
            stream="bench",
            play_tracks=[PlayTrack("audio", 1111, "a0"), PlayTrack("video", 2222, "v0")],
        )
        result = negotiate(sdp, opts, publish=False)
        fp = (sdp.media_attr(sdp.media[0], "fingerprint") or "").split()
        remote_ufrag = sdp.media_attr(sdp.media[0], "ice-ufrag") or ""
        self.ice.add(IceSession("srvufrag", opts.ice_pwd, remote_ufrag), time.monotonic())
        self.dtls = DtlsEndpoint(self.cert, "server", fp[1])
        return str(result.answer)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None and self.dtls is not None
        kind = classify(data)
        if kind == PacketKind.STUN:
            answered = self.ice.on_stun(data, addr, time.monotonic())
            self.stun_checks += 1
            self.peer = answered.session.address
            self.transport.sendto(answered.response, addr)
        elif kind == PacketKind.DTLS and self.ice.by_address(addr) is not None:
            for d in self.dtls.receive(data):
                self.transport.sendto(d, addr)
            if self.dtls.keys is not None and self.srtp is None:
                self.srtp = SrtpSession(self.dtls.keys)
                self.ready.set()

    def send_rtp(self, pt: int, seq: int, ts: int, ssrc: int, marker: bool = False) -> None:
        assert self.transport is not None and self.srtp is not None and self.peer is not None
        pkt = RtpPacket(
            payload_type=pt, sequence_number=seq, timestamp=ts, ssrc=ssrc, marker=marker, payload=b"x" * 100
        )
        self.transport.sendto(self.srtp.protect_rtp(bytes(pkt)), self.peer)


async def test_whep_client_ice_dtls_srtp_and_counting() -> None:
    loop = asyncio.get_running_loop()
    server = MiniServer()
    transport, _ = await loop.create_datagram_endpoint(lambda: server, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    client = WhepSession()
    answer = server.answer(client.offer(), port)
    a = parse_answer(answer)
    assert a.candidate == ("127.0.0.1", port) and a.setup == "passive" and a.ufrag == "srvufrag"
    try:
        await client.connect(answer, timeout_s=10)
        await asyncio.wait_for(server.ready.wait(), 5)
        assert client.result.ok and client.dtls is not None and client.dtls.role == "client"
        assert server.ice.by_ufrag("srvufrag").nominated  # type: ignore[union-attr]
        # video: 3 frames (ts 0, 3000, 6000) over seqs 65534..65535,0..3 (wraps), one lost (seq 1)
        for seq, ts in [(65534, 0), (65535, 0), (0, 3000), (2, 6000), (3, 6000)]:
            server.send_rtp(client.video_pt or 0, seq, ts, 2222)
        for seq in range(10, 20):
            server.send_rtp(111, seq, seq * 960, 1111)
        async with asyncio.timeout(5):
            while sum(s.packets for s in client.result.ssrcs.values()) < 15:
                await asyncio.sleep(0.01)
    finally:
        await client.close()
        transport.close()
    video, audio = client.result.ssrcs[2222], client.result.ssrcs[1111]
    assert (video.packets, len(video.unique), video.expected) == (5, 5, 6)
    assert [ts for ts, _ in video.frame_arrivals] == [0, 3000, 6000]
    assert (audio.packets, audio.expected, audio.frame_arrivals) == (10, 10, [])
    assert client.result.srtp_errors == 0 and client.result.connect_s is not None


async def test_whep_client_through_lossy_relay_survives_a_lost_dtls_flight() -> None:
    """The answer's candidate rewritten to a LossyRelay that drops the server's first DTLS flight
    (ServerHello..ServerHelloDone) and every 10th RTP packet: the client's DTLS timer resends its
    ClientHello, the handshake completes, and the lost RTP shows as delivery below 100 %."""
    loop = asyncio.get_running_loop()
    server = MiniServer()
    transport, _ = await loop.create_datagram_endpoint(lambda: server, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    relay = LossyRelay(
        ("127.0.0.1", port),
        down=Impairment(
            drop_nth={PacketKind.DTLS: {1}}, drop_if=lambda d, k, i: k == PacketKind.RTP and i % 10 == 0
        ),
    )
    client = WhepSession()
    answer = rewrite_candidates(server.answer(client.offer(), port), "127.0.0.1", await relay.start())
    try:
        await client.connect(answer, timeout_s=10)
        await asyncio.wait_for(server.ready.wait(), 5)
        for seq in range(101):  # the relay drops the 10th, 20th... 100th (seq 99)
            server.send_rtp(client.video_pt or 0, seq, seq * 3000, 2222)
        async with asyncio.timeout(5):
            while client.result.ssrcs.get(2222) is None or client.result.ssrcs[2222].max_seq < 100:
                await asyncio.sleep(0.01)
    finally:
        await client.close()
        await relay.close()
        transport.close()
    assert [e.index for e in relay.events("down", PacketKind.DTLS, "drop")] == [1]
    assert len(relay.events("up", PacketKind.DTLS)) > 2  # the ClientHello went again
    video = client.result.ssrcs[2222]
    assert (len(video.unique), video.expected) == (91, 101)


async def test_whep_load_players_over_http_and_summary() -> None:
    """whep_load.run_players: POST the offer, connect, count, DELETE; merge() makes the summary
    (latency from RTP timestamps: video ts/90 ms after t0 = the publisher's send time)."""
    from aiohttp import web

    from whep_load import merge, run_players

    loop = asyncio.get_running_loop()
    server = MiniServer()
    transport, _ = await loop.create_datagram_endpoint(lambda: server, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    deleted: list[str] = []

    async def whep(request: web.Request) -> web.Response:
        answer = server.answer(await request.text(), port)
        return web.Response(status=201, text=answer, headers={"Location": "/rtc/v1/whep/?session=1"})

    async def delete(request: web.Request) -> web.Response:
        deleted.append(request.query_string)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/rtc/v1/whep/", whep)
    app.router.add_delete("/rtc/v1/whep/", delete)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/rtc/v1/whep/?app=live&stream=bench"
    t0 = time.time() - 10.0  # frame ts 9000 + 40 k ms "was sent" 1 - 0.04 k s ago

    async def feed() -> None:
        await server.ready.wait()
        for seq in range(20):
            server.send_rtp(106, seq, 9000 * 90 + seq * 3600, 2222)
            server.send_rtp(111, seq, seq * 960, 1111)

    feeder = asyncio.ensure_future(feed())
    try:
        part = await run_players(url, 1, 0, 1.5, t0)
    finally:
        feeder.cancel()
        await runner.cleanup()
        transport.close()
    out = merge([part, part])
    assert (out["players"], out["connected"], out["errors"]) == (2, 2, {})
    assert out["video_packets"] == 40 and out["video_delivered_pct"] == 100.0 and out["audio_packets"] == 40
    assert out["latency_samples"] == 40 and 200 < out["latency_p50_ms"] < 5000 and not out["latency_suspect"]
    assert deleted == ["session=1"]
