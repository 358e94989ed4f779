"""The WebRTC test tools (tests/support/rtc.py, lossy.py, browser pages) against in-process peers:
an aiortc WHIP/WHEP relay (support.rtc_relay), plain UDP sockets, Chromium."""

from __future__ import annotations

import asyncio

from support.browser import rtc_chromium
from support.media import lavfi_clip
from support.rtc import (
    candidates,
    legacy_play,
    legacy_publish,
    rewrite_candidates,
    whep_play,
    whip_publish,
)
from support.rtc_relay import RelayServer


async def test_whip_whep_through_aiortc_relay() -> None:
    clip = lavfi_clip(3, size="160x120")
    relay = RelayServer()
    base = await relay.start()
    try:
        pub = asyncio.ensure_future(whip_publish(f"{base}/rtc/v1/whip/?app=live&stream=x", clip, 5))
        while not relay.frames[("x", "video")]:
            assert not pub.done(), pub.result()
            await asyncio.sleep(0.1)
        play = await whep_play(
            f"{base}/rtc/v1/whep/?app=live&stream=x", 8, until_frames=10, until_audio_frames=25
        )
        result = await pub
    finally:
        await relay.close()
    assert result.connected and result.location and result.location.startswith(base)
    assert result.codecs == {"audio": "audio/opus", "video": "video/H264"}
    assert result.packets_sent["video"] > 0 and result.packets_sent["audio"] > 0
    assert result.delete_status == 200
    assert play.connected and play.video_frames >= 10 and play.first_frame_s is not None
    assert play.video_codec == "video/H264" and play.audio_codec == "audio/opus"
    assert set(play.video_sizes) == {(160, 120)}
    assert play.audio_frames > 0 and play.audio_nonsilent and play.audio_rate == 48000
    assert play.delete_status == 200 and len(relay.deleted) == 2


async def test_legacy_api_and_candidate_rewrite() -> None:
    """SRS's JSON API, VP8, and the answer's candidate rewritten (to the same address: the hook runs)."""
    clip = lavfi_clip(3, size="160x120")
    relay = RelayServer()
    base = await relay.start()
    seen: list[str] = []

    def hook(sdp: str) -> str:
        c = next(c for c in candidates(sdp) if c.protocol == "udp")
        seen.append(sdp)
        return rewrite_candidates(sdp, c.host, c.port)

    try:
        pub = asyncio.ensure_future(
            legacy_publish(f"{base}/rtc/v1/publish/", "webrtc://127.0.0.1/live/y", clip, 5, video_codec="VP8")
        )
        while not relay.frames[("y", "video")]:
            assert not pub.done(), pub.result()
            await asyncio.sleep(0.1)
        play = await legacy_play(
            f"{base}/rtc/v1/play/",
            "webrtc://127.0.0.1/live/y",
            8,
            video_codec="VP8",
            until_frames=5,
            answer_hook=hook,
        )
        result = await pub
    finally:
        await relay.close()
    assert result.connected and result.location == "1" and result.delete_status is None
    assert play.connected and play.video_frames >= 5 and play.video_codec == "video/VP8" and seen


async def test_chromium_pages_publish_and_play_through_aiortc_relay() -> None:
    """whip.html publishes Chromium's fake camera to the aiortc relay; whep.html plays it back."""
    relay = RelayServer()
    base = await relay.start()
    try:
        async with rtc_chromium(proxy=base) as open_page:
            pub = await open_page("whip.html")
            answer = await pub.publish("/rtc/v1/whip/?app=live&stream=c")
            assert answer["status"] == 201 and answer["location"].endswith("/rtc/v1/session/1")
            st = await pub.wait(
                lambda s: any(o["kind"] == "video" and o["framesEncoded"] > 10 for o in s["outbound"]),
                what="frames encoded",
            )
            while relay.frames[("c", "video")] < 10:
                await asyncio.sleep(0.1)
            player = await open_page("whep.html")
            await player.play("/rtc/v1/whep/?app=live&stream=c")
            got = await player.wait(
                lambda s: any(i["kind"] == "video" and i["framesDecoded"] > 10 for i in s["inbound"]),
                what="frames decoded",
            )
            assert await player.stop() == 200 and await pub.stop() == 200
    finally:
        await relay.close()
    video_out = next(o for o in st["outbound"] if o["kind"] == "video")
    assert video_out["codec"] == "video/H264" and st["connectionState"] == "connected"
    video_in = next(i for i in got["inbound"] if i["kind"] == "video")
    assert video_in["codec"] == "video/H264" and video_in["frameWidth"] > 0
    assert relay.sizes and relay.frames[("c", "audio")] > 0
