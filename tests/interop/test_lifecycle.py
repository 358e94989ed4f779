"""The life of a stream as ffmpeg users see it: a player that comes first waits, a second
publisher is refused while the first goes on, players are ended (HTTP-FLV) or kept for a
republish (RTMP, as SRS does) when the publisher leaves."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.checks import (
    EXACT_ISH,
    assert_plays_like,
    assert_stream_matches,
    first_backstep,
    problems_plays_like,
)
from support.flv import AUDIO, VIDEO, capture_http_flv
from support.media import lavfi_clip
from support.server import SrsProcess
from support.tools import Clients, probe, publish_file, record_popen

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


def _publish(srs: SrsProcess, clients: Clients, stream: str, path: Path) -> None:
    pub = clients.add(publish_file(srs.rtmp_url(stream), path))
    _, err = pub.communicate(timeout=30)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"


def test_player_before_publisher_waits(
    srs: SrsProcess, stream_name: str, clients: Clients, bg: ThreadPoolExecutor, tmp_path: Path
) -> None:
    """Players that come first (RTMP and HTTP-FLV) wait, then get the stream from its first
    frame: sequence headers, then a keyframe, then every frame."""
    path = lavfi_clip(3)
    src = probe(path)
    assert src.video is not None
    cut_s = round(src.video.duration - 0.5, 2)
    flv = bg.submit(capture_http_flv, srs.flv_url(stream_name), max_seconds=20)
    rtmp = clients.add(record_popen(srs.rtmp_url(stream_name), tmp_path / "rtmp.flv", seconds=cut_s))
    srs.wait_players(stream_name, 2)
    time.sleep(2)
    assert rtmp.poll() is None, "the RTMP player gave up before the publisher came"
    assert not flv.done(), "the HTTP-FLV response ended before the publisher came"

    _publish(srs, clients, stream_name, path)

    cap = flv.result(timeout=10)
    assert cap.status == 200 and cap.content_type == "video/x-flv"
    assert cap.ended, "the HTTP-FLV response did not end when the publisher left"
    media = [t for t in cap.tags if t.type in (AUDIO, VIDEO)]
    assert media[0].is_sequence_header and media[1].is_sequence_header, "sequence headers must come first"
    first_frame = next(t for t in media if t.type == VIDEO and t.is_frame)
    assert first_frame.is_keyframe, "the first video frame of a stream played from its start is a keyframe"
    assert len(cap.frames(VIDEO)) == src.video.frames
    assert src.audio is not None and len(cap.frames(AUDIO)) == src.audio.frames

    _, err = rtmp.communicate(timeout=15)
    assert rtmp.returncode == 0, err.decode(errors="replace")
    assert_plays_like(probe(tmp_path / "rtmp.flv"), src, what="RTMP recording", seconds=cut_s)


def test_second_publisher_refused_first_goes_on(
    srs: SrsProcess, stream_name: str, clients: Clients, bg: ThreadPoolExecutor
) -> None:
    """ffmpeg publishing to a busy stream exits at once with SRS's message (error 1028); the
    first publisher is not disturbed and its player gets every frame."""
    path = lavfi_clip(4)
    src = probe(path)
    flv = bg.submit(probe, srs.flv_url(stream_name), rw_timeout_s=5, timeout_s=30)
    srs.wait_players(stream_name, 1)
    first = clients.add(publish_file(srs.rtmp_url(stream_name), path))
    srs.wait_log(f"publish ip=127.0.0.1 url=/live/{stream_name} ")
    time.sleep(1)

    started = time.monotonic()
    second = clients.add(publish_file(srs.rtmp_url(stream_name), path))
    _, err = second.communicate(timeout=15)
    text = err.decode(errors="replace")
    assert second.returncode != 0, "the second publisher was accepted"
    assert time.monotonic() - started < 5, "the second publisher was not refused promptly"
    assert "busy" in text and "1028" in text, f"unclear error for the second publisher: {text!r}"

    _, err = first.communicate(timeout=30)
    assert first.returncode == 0, f"the first publisher was disturbed: {err.decode(errors='replace')}"
    assert_plays_like(
        flv.result(timeout=15), src, what="HTTP-FLV player of the first publisher", tol=EXACT_ISH
    )


def test_publisher_leaves_and_republishes(
    srs: SrsProcess, stream_name: str, clients: Clients, bg: ThreadPoolExecutor
) -> None:
    """When the publisher leaves, the HTTP-FLV response ends cleanly while RTMP players stay
    connected (SRS behaviour) and resume when the stream is published again; a new HTTP-FLV
    player of the republished stream gets it whole. Every player sees one audio and one video
    stream (the order of timestamps across the republish is the next test's business)."""
    path = lavfi_clip(3)
    src = probe(path)
    assert src.video is not None and src.audio is not None
    flv1 = bg.submit(capture_http_flv, srs.flv_url(stream_name), max_seconds=20)
    rtmp = bg.submit(probe, srs.rtmp_url(stream_name), packets=2 * src.packets, rw_timeout_s=8, timeout_s=40)
    srs.wait_players(stream_name, 2)

    _publish(srs, clients, stream_name, path)
    left = time.monotonic()
    cap = flv1.result(timeout=10)
    assert cap.ended, "the HTTP-FLV response did not end when the publisher left"
    assert cap.tags and cap.tags[-1].arrived_s - left < 3
    assert len(cap.frames(VIDEO)) == src.video.frames and len(cap.frames(AUDIO)) == src.audio.frames

    time.sleep(1.5)
    assert not rtmp.done(), "the RTMP player was dropped when the publisher left"

    flv2 = bg.submit(probe, srs.flv_url(stream_name), rw_timeout_s=5, timeout_s=30)
    srs.wait_players(stream_name, 3)
    _publish(srs, clients, stream_name, path)

    # Report every problem at once.
    problems = problems_plays_like(
        flv2.result(timeout=15), src, what="HTTP-FLV player of the republished stream", tol=EXACT_ISH
    )
    problems += problems_plays_like(
        rtmp.result(timeout=20),
        src,
        what="ffprobe RTMP across the republish",
        scale=2,
        tol=EXACT_ISH,
        check_monotonic=False,
    )
    assert not problems, "\n".join(problems)


def test_republish_keeps_timestamps_in_order(
    srs: SrsProcess, stream_name: str, clients: Clients, bg: ThreadPoolExecutor, tmp_path: Path
) -> None:
    """An RTMP player that stays across a republish sees, per stream, DTS that never go back
    (``time_jitter full`` continues the timeline); ffmpeg recording it has nothing to repair."""
    path = lavfi_clip(2)
    src = probe(path)
    assert src.video is not None and src.audio is not None
    both_s = round(2 * src.video.duration - 0.3, 2)
    rtmp = bg.submit(probe, srs.rtmp_url(stream_name), packets=2 * src.packets, rw_timeout_s=8, timeout_s=40)
    rec = clients.add(
        record_popen(srs.rtmp_url(stream_name), tmp_path / "rtmp.flv", seconds=both_s, loglevel="warning")
    )
    srs.wait_players(stream_name, 2)
    _publish(srs, clients, stream_name, path)
    time.sleep(1)
    _publish(srs, clients, stream_name, path)

    got = rtmp.result(timeout=20)
    problems = [
        f"ffprobe RTMP: {s.codec_type} DTS goes back: {first_backstep(s)}"
        for s in got.streams
        if not s.monotonic()
    ]
    _, err = rec.communicate(timeout=15)
    text = err.decode(errors="replace")
    assert rec.returncode == 0, text
    problems += [f"ffmpeg RTMP recorder: {ln.strip()}" for ln in text.splitlines() if "Non-monotonous" in ln]
    assert not problems, "\n".join(problems)
    recorded = probe(tmp_path / "rtmp.flv")
    # The second publish continues the timeline one 10 ms step after the latest A/V timestamp of
    # the first (full jitter); the recording stops at both_s of that timeline.
    start = min(src.video.dts[0], src.audio.dts[0])
    second_at = max(src.video.dts[-1], src.audio.dts[-1]) - start + 0.010
    for mine, theirs in ((recorded.video, src.video), (recorded.audio, src.audio)):
        expected = theirs.frames + theirs.frames_before(both_s - second_at)
        assert_stream_matches(mine, theirs, what="ffmpeg RTMP recording", expected_frames=expected)
