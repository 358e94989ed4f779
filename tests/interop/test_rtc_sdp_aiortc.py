"""Our WHIP/WHEP answers against a real WebRTC stack: aiortc makes the offer, we answer, aiortc must
accept the answer (``setRemoteDescription``) and end up with the codecs we chose.

No server runs here: this checks the SDP layer (srs.protocol.rtc.sdp / negotiate) on real offers.
The answer's candidate points at a UDP socket the test holds on 127.0.0.1, so aiortc's ICE checks
land there and are ignored.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from srs.protocol.rtc.negotiate import AnswerOptions, PlayTrack, negotiate, udp_candidate
from srs.protocol.rtc.sdp import SessionDescription
from srs.util.errors import SdpNegotiateError

pytestmark = pytest.mark.interop


@pytest.fixture
def sink() -> Iterator[int]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


def options(port: int, codec: str = "h264") -> AnswerOptions:
    return AnswerOptions(
        "srsu1234",
        "0123456789abcdef0123456789abcdef",
        ":".join(["5A"] * 32),
        [udp_candidate("127.0.0.1", port)],
        codec=codec,
        play_tracks=[
            PlayTrack("audio", 11111, "audio-0", "srs"),
            PlayTrack("video", 22222, "video-0", "srs"),
        ],
    )


async def offer_from(pc: RTCPeerConnection) -> SessionDescription:
    await pc.setLocalDescription(await pc.createOffer())
    text = pc.localDescription.sdp
    sdp = SessionDescription.parse(text)
    assert str(sdp) == text  # aiortc's offer round-trips byte for byte
    return sdp


def codecs_of(pc: RTCPeerConnection) -> list[tuple[str | None, list[str]]]:
    """(mid, negotiated mime types) per transceiver; aiortc keeps them in a private field."""
    return [(t.mid, [c.mimeType for c in t._codecs]) for t in pc.getTransceivers()]


@pytest.mark.parametrize("direction", ["sendonly", "recvonly", "sendrecv"])
async def test_aiortc_accepts_our_answer(direction: str, sink: int) -> None:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction=direction)
        pc.addTransceiver("video", direction=direction)
        offer = await offer_from(pc)
        publish = direction != "recvonly"
        n = negotiate(offer, options(sink), publish=publish)
        await pc.setRemoteDescription(RTCSessionDescription(str(n.answer), "answer"))
        assert codecs_of(pc) == [("0", ["audio/opus"]), ("1", ["video/H264"])]
        ours = "sendonly" if publish else "recvonly"
        assert [t.currentDirection for t in pc.getTransceivers()] == [ours, ours]
        video = next(t for t in pc.getTransceivers() if t.kind == "video")
        assert video._codecs[0].parameters["profile-level-id"] == "42e01f"
        assert n.media[1].codec is not None and n.media[1].codec.params["profile-level-id"] == "42e01f"
    finally:
        await pc.close()


async def test_aiortc_play_gets_our_tracks(sink: int) -> None:
    pc = RTCPeerConnection()
    kinds: list[str] = []
    pc.on("track", lambda track: kinds.append(track.kind))
    try:
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
        n = negotiate(await offer_from(pc), options(sink), publish=False)
        await pc.setRemoteDescription(RTCSessionDescription(str(n.answer), "answer"))
        assert sorted(kinds) == ["audio", "video"]
        assert [m.local_ssrc for m in n.media] == [11111, 22222]
    finally:
        await pc.close()


async def test_vp8_only_offer_with_codec_vp8(sink: int) -> None:
    pc = RTCPeerConnection()
    try:
        t = pc.addTransceiver("video", direction="sendonly")
        caps = RTCRtpSender.getCapabilities("video").codecs
        t.setCodecPreferences([c for c in caps if c.mimeType in ("video/VP8", "video/rtx")])
        offer = await offer_from(pc)
        with pytest.raises(SdpNegotiateError, match="no usable media"):
            negotiate(offer, options(sink), publish=True)  # codec=h264 (default): nothing to answer
        n = negotiate(offer, options(sink, codec="vp8"), publish=True)
        await pc.setRemoteDescription(RTCSessionDescription(str(n.answer), "answer"))
        assert codecs_of(pc) == [("0", ["video/VP8"])]
    finally:
        await pc.close()


async def test_data_channel_mline_is_rejected_and_accepted_by_aiortc(sink: int) -> None:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="sendonly")
        pc.addTransceiver("video", direction="sendonly")
        pc.createDataChannel("chat")
        n = negotiate(await offer_from(pc), options(sink), publish=True)
        assert [m.port for m in n.answer.media] == [9, 9, 0]
        assert n.answer.bundle == ["0", "1"]
        await pc.setRemoteDescription(RTCSessionDescription(str(n.answer), "answer"))
        assert codecs_of(pc) == [("0", ["audio/opus"]), ("1", ["video/H264"])]
    finally:
        await pc.close()


async def test_audio_only_offer(sink: int) -> None:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="sendonly")
        n = negotiate(await offer_from(pc), options(sink), publish=True)
        await pc.setRemoteDescription(RTCSessionDescription(str(n.answer), "answer"))
        assert codecs_of(pc) == [("0", ["audio/opus"])]
        assert n.answer.media[0].codecs[0].rtpmap() == "96 opus/48000/2"
    finally:
        await pc.close()
