"""WebRTC transport details with a client of our own (bench/whep_client.py's WhepSession): a player
whose address changes keeps its session (ICE: a new checked address takes over the media), and
``encrypt=false`` sends plaintext RTP after the DTLS handshake (SRS's semi-secure transport)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from srs.protocol.rtc.rtp import RtpPacket, is_rtcp
from srs.protocol.rtc.srtp import PlainSession, SrtpSession
from support.media import clip
from support.rtc_raw import WhepSession  # also puts bench/ on sys.path
from support.rtmp_client import RtmpClient, flv_tags

from .conftest import Running, start_app
from .test_rtc_sessions import wait_until

RTC_SERVER = "rtc_server { enabled on; listen 0; candidate 127.0.0.1; }"
VHOST = "rtc { enabled on; rtmp_to_rtc on; }"


class MovingPlayer(WhepSession):
    """Keeps its protocol object when the test swaps its socket (the old one's close comes later)."""

    def connection_lost(self, exc: Exception | None) -> None:
        pass


class PlaintextPlayer(WhepSession):
    """``encrypt=false``: DTLS runs, then RTP is read as it is."""

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        super().datagram_received(data, addr)
        if isinstance(self.srtp, SrtpSession):
            self.srtp = PlainSession()  # type: ignore[assignment]
        if self.srtp is not None and 127 < data[0] < 192 and len(data) > 12 and not is_rtcp(data):
            self.plain.append(data)

    plain: list[bytes]


async def publish(r: Running) -> tuple[RtmpClient, asyncio.Task[None]]:
    pub = await RtmpClient.open(r.ports.rtmp)
    await pub.publish("cam")
    return pub, asyncio.ensure_future(pub.send_tags(flv_tags(clip("bbb.flv")), realtime=True))


def packets(s: WhepSession) -> int:
    return sum(st.packets for st in s.result.ssrcs.values())


async def test_a_player_whose_address_changes_keeps_its_session(tmp_path: Path) -> None:
    r = await start_app(tmp_path, vhost_body=VHOST, extra=RTC_SERVER)
    pub, feed = await publish(r)
    s = MovingPlayer()
    try:
        async with aiohttp.ClientSession() as http:
            answer = await s.signal(http, f"http://127.0.0.1:{r.ports.api}/rtc/v1/whep/?app=live&stream=cam")
            await s.connect(answer)
            await wait_until(lambda: packets(s) >= 50, what="media")
            rtc = r.app.rtc
            assert rtc is not None and len(rtc.sessions) == 1
            (session,) = rtc.sessions.values()
            old_path = repr(session.path)
            old = s.transport
            assert old is not None and s.answer is not None
            loop = asyncio.get_running_loop()
            await loop.create_datagram_endpoint(lambda: s, remote_addr=s.answer.candidate)  # a new port
            old.close()
            s.transport.sendto(s._binding_request())  # type: ignore[union-attr]
            before = packets(s)
            await wait_until(lambda: packets(s) >= before + 50, what="media on the new address")
            assert list(rtc.sessions.values()) == [session] and not session.closed
            assert repr(session.path) != old_path  # media follows the newly checked address
            assert s.result.srtp_errors == 0
            await s.close(http)
    finally:
        feed.cancel()
        await pub.close()
        await r.app.stop(graceful=False)


async def test_encrypt_false_sends_plaintext_rtp_after_dtls(tmp_path: Path) -> None:
    r = await start_app(tmp_path, vhost_body=VHOST, extra=RTC_SERVER)
    pub, feed = await publish(r)
    s = PlaintextPlayer()
    s.plain = []
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{r.ports.api}/rtc/v1/whep/?app=live&stream=cam&encrypt=false"
            await s.connect(await s.signal(http, url))
            await wait_until(lambda: len(s.plain) >= 50, what="plaintext RTP")
            rtc = r.app.rtc
            assert rtc is not None
            (session,) = rtc.sessions.values()
            assert isinstance(session.srtp, PlainSession) and session.dtls is not None
            # The bytes on the wire parse as RTP and carry an H.264 or Opus payload in clear.
            parsed = [RtpPacket.parse(p) for p in s.plain]
            assert {p.payload_type for p in parsed} <= {111, s.video_pt}
            assert s.result.srtp_errors == 0 and packets(s) >= 50
            await s.close(http)
    finally:
        feed.cancel()
        await pub.close()
        await r.app.stop(graceful=False)
