"""hls.js (npm, pinned in tests/web) in headless Debian Chromium plays our HLS: MPEG-TS segments
and fMP4 segments (EXT-X-MAP), through SRS's HLS session master playlist (``?hls_ctx=``), while
ffmpeg publishes a live encode over RTMP. The page and the stream come from our own HTTP server
(the page sits in ``http_server.dir``). Latency is measured and printed, never asserted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.browser import (
    Chromium,
    OpenPlayer,
    Player,
    PlayerState,
    chromium_browser,
    glass_to_glass,
    hls_players,
)
from support.media import lavfi_args
from support.server import StartServer
from support.tools import Clients, ffmpeg_publish

pytestmark = pytest.mark.interop

HLS = """
    hls {
        enabled         on;
        hls_fragment    1;
        hls_window      10;
    }
"""
FMP4 = HLS.replace("hls_window      10;", "hls_window 10; hls_use_fmp4 on;")
WIDTH, HEIGHT = 480, 270


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    yield from chromium_browser()


@pytest.fixture
def hls_player(chromium: Chromium) -> Iterator[OpenPlayer]:
    yield from hls_players(chromium)


def wait_file(path: Path, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.is_file():
        assert time.monotonic() < deadline, f"{path} not written"
        time.sleep(0.1)


def assert_every_frame(before: PlayerState, after: PlayerState, player: Player) -> None:
    """The frames decoded while the clock moved on are the frames of that stretch (25 fps, a little
    slack): Chromium skips none because of the stream (MSE drops a GOP's rest when it sees a
    decode-time discontinuity, e.g. a sample whose duration does not reach the next one)."""
    played = after.current_time - before.current_time
    decoded = after.frames - before.frames
    assert played > 0 and decoded >= 0.85 * 25 * played, (
        f"{decoded} frames decoded in {played:.2f} s of playback: {player.describe(after)}"
    )


def encode_args(profile: str) -> list[str]:
    """H.264 ``profile`` (main gets B-frames: composition offsets in the segments) + AAC, 1 s GOP."""
    bf = "0" if profile == "baseline" else "2"
    return [
        "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", profile, "-bf", bf,
        "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k",
    ]  # fmt: skip


@pytest.mark.parametrize(("mode", "profile"), [("ts", "baseline"), ("fmp4", "main")])
def test_hlsjs_plays_live_hls(
    mode: str,
    profile: str,
    start_srs: StartServer,
    stream_name: str,
    clients: Clients,
    hls_player: OpenPlayer,
) -> None:
    srs = start_srs(vhost_body=FMP4 if mode == "fmp4" else HLS)
    pub = clients.add(
        ffmpeg_publish(
            srs.rtmp_url(stream_name),
            lavfi_args(seconds=30, size=f"{WIDTH}x{HEIGHT}", rate=25),
            codec=encode_args(profile),
        )
    )
    player = hls_player(srs)
    # The playlist exists once the first segment is closed. The first answer is the session's
    # master playlist (-> ?hls_ctx=...): hls.js follows it.
    wait_file(srs.workdir / "objs" / "nginx" / "html" / "live" / f"{stream_name}.m3u8")
    player.play(f"/live/{stream_name}.m3u8")
    first = player.wait_frames(25, timeout_s=15)
    assert (first.width, first.height) == (WIDTH, HEIGHT), player.describe(first)
    # Still live: more frames decoded and the clock moving on, a second later.
    later = player.wait(
        lambda s: s.frames >= first.frames + 20 and s.current_time > first.current_time + 0.5,
        timeout_s=8,
        what="playback to go on",
    )
    lat = glass_to_glass(player, seconds=2.0)
    end = player.state()
    assert end.frames > later.frames and not end.fatal_errors, player.describe(end)
    assert_every_frame(later, end, player)
    assert pub.poll() is None, "publisher ended early"
    print(
        f"hls.js {end.version} {mode}/{profile}: frames={end.frames} dropped={end.dropped} "
        f"non-fatal errors={end.errors} latency={lat.summary()}"
    )
    # SRS's HLS session: hls.js plays the media playlist the master playlist pointed it to.
    assert end.level_url is not None and "hls_ctx=" in end.level_url, player.describe(end)


LLHLS = """
    hls {
        enabled         on;
        hls_fragment    1;
        hls_window      10;
        hls_use_fmp4    on;
        hls_ll          on;
        hls_part        0.2;
    }
"""


@pytest.mark.parametrize("mode", ["fmp4", "ts"])
def test_hlsjs_plays_low_latency_hls(
    mode: str, start_srs: StartServer, stream_name: str, clients: Clients, hls_player: OpenPlayer
) -> None:
    """hls.js in lowLatencyMode reads the LL playlist (parts, blocking reloads; fMP4 or TS parts)
    and plays; the glass-to-glass latency (ingest clock in EXT-X-PROGRAM-DATE-TIME -> shown frame)
    is printed."""
    srs = start_srs(vhost_body=LLHLS if mode == "fmp4" else LLHLS.replace("hls_use_fmp4    on;", ""))
    pub = clients.add(
        ffmpeg_publish(
            srs.rtmp_url(stream_name),
            lavfi_args(seconds=30, size=f"{WIDTH}x{HEIGHT}", rate=25),
            codec=encode_args("baseline"),
        )
    )
    player = hls_player(srs)
    wait_file(srs.workdir / "objs" / "nginx" / "html" / "live" / f"{stream_name}.m3u8")
    player.play(f"/live/{stream_name}.m3u8", low_latency=True)
    first = player.wait_frames(25, timeout_s=15)
    assert (first.width, first.height) == (WIDTH, HEIGHT), player.describe(first)
    # hls.js saw an LL playlist: a part target and blocking reloads.
    assert first.part_target is not None and first.part_target > 0, player.describe(first)
    assert first.low_latency_mode and first.can_block_reload, player.describe(first)
    lat = glass_to_glass(player, seconds=4.0)
    end = player.state()
    assert end.frames > first.frames and not end.fatal_errors, player.describe(end)
    assert_every_frame(first, end, player)
    assert pub.poll() is None, "publisher ended early"
    # It loads parts (EXT-X-PART), not only whole segments.
    assert any(e["kind"] == "part" for e in end.events), player.describe(end)
    # EXT-X-PROGRAM-DATE-TIME is there: hls.playingDate gave the shown frame's wall clock.
    assert lat.g2g_ms, player.describe(end)
    print(
        f"hls.js {end.version} LL-HLS {mode}: frames={end.frames} dropped={end.dropped} "
        f"non-fatal errors={end.errors} latency={lat.summary()}"
    )
