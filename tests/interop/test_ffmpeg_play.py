"""ffmpeg publishes over RTMP; ffprobe and ffmpeg play over RTMP and HTTP-FLV at the same time.

Players started *before* the publisher must receive the whole stream; a newcomer must receive
everything from the cached keyframe on. The expected codecs, sizes and frame counts are always
those ffprobe finds in the published source.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.checks import EXACT_ISH, Tolerance, assert_plays_like, assert_same_av_tags, assert_stream_matches
from support.flv import capture_http_flv
from support.media import clip, lavfi_clip
from support.server import SrsProcess
from support.tools import Clients, capture_rtmp_raw, probe, publish_file, publish_lavfi, record_popen

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


@pytest.mark.parametrize("name", ["avatar.flv", "bbb.flv"])
def test_shared_clip_to_six_players(
    name: str, srs: SrsProcess, stream_name: str, clients: Clients, bg: ThreadPoolExecutor, tmp_path: Path
) -> None:
    """avatar.flv (H.264 High, B-frames, AAC) and bbb.flv (H.264 + AAC), published with
    ``ffmpeg -re -c copy``, reach six players at once (ffprobe, ffmpeg and raw byte readers over
    RTMP and HTTP-FLV): every frame, in order, the A/V bytes untouched."""
    path = clip(name)
    src = probe(path)
    cut_s = round(src.video.duration - 1.0, 1) if src.video else 0  # the -t recorder stops before the end
    rtmp_probe = bg.submit(
        probe, srs.rtmp_url(stream_name), packets=src.packets, rw_timeout_s=5, timeout_s=45
    )
    flv_probe = bg.submit(probe, srs.flv_url(stream_name), rw_timeout_s=5, timeout_s=45)
    rtmp_rec = clients.add(
        record_popen(srs.rtmp_url(stream_name), tmp_path / "rtmp.flv", seconds=cut_s, loglevel="warning")
    )
    flv_rec = clients.add(record_popen(srs.flv_url(stream_name), tmp_path / "flv.flv", loglevel="warning"))
    flv_raw = bg.submit(capture_http_flv, srs.flv_url(stream_name), max_seconds=40)
    rtmp_raw = clients.add(capture_rtmp_raw(srs.rtmp_url(stream_name), tmp_path / "rtmp.raw.flv"))
    srs.wait_players(stream_name, 6)

    pub = clients.add(publish_file(srs.rtmp_url(stream_name), path))
    _, err = pub.communicate(timeout=45)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"

    assert_plays_like(rtmp_probe.result(), src, what="ffprobe RTMP", tol=EXACT_ISH)
    got = flv_probe.result()
    assert got.format_name == "flv"
    assert_plays_like(got, src, what="ffprobe HTTP-FLV", tol=EXACT_ISH)

    # ffmpeg -c copy from FLV to RTMP keeps every A/V tag body, so the bytes must match the file.
    assert_same_av_tags(flv_raw.result(timeout=10).body, path.read_bytes(), what="HTTP-FLV bytes")
    _, err = rtmp_raw.communicate(timeout=15)
    assert rtmp_raw.returncode == 0, err.decode(errors="replace")
    raw = (tmp_path / "rtmp.raw.flv").read_bytes()
    assert_same_av_tags(raw, path.read_bytes(), what="RTMP message payloads")

    # ffmpeg players end on their own: HTTP-FLV when the publisher leaves, RTMP at -t.
    for what, rec, out, seconds in (
        ("RTMP", rtmp_rec, "rtmp.flv", cut_s),
        ("HTTP-FLV", flv_rec, "flv.flv", None),
    ):
        _, err = rec.communicate(timeout=20)
        text = err.decode(errors="replace")
        assert rec.returncode == 0, f"ffmpeg {what} recorder failed: {text}"
        assert "Non-monotonous" not in text, f"ffmpeg {what} saw timestamps going back: {text}"
        assert_plays_like(probe(tmp_path / out), src, what=f"ffmpeg {what} recording", seconds=seconds)


def test_live_lavfi_h264_aac_to_three_players(
    srs: SrsProcess, stream_name: str, clients: Clients, bg: ThreadPoolExecutor, tmp_path: Path
) -> None:
    """ffmpeg encodes a lavfi source live (libx264 + aac) and publishes it; two RTMP players and
    one HTTP-FLV player get what was published (tee'd to a local file to know exactly what that is)."""
    seconds = 4
    published = tmp_path / "published.flv"
    flv = bg.submit(probe, srs.flv_url(stream_name), rw_timeout_s=5, timeout_s=30)
    # Expected packets: 4 s at 25 fps and 44100/1024 AAC frames per second, give or take the encoder.
    about = int(seconds * 25 + seconds * 44100 / 1024)
    rtmp_a = bg.submit(probe, srs.rtmp_url(stream_name), rw_timeout_s=3, timeout_s=30)
    rtmp_b = bg.submit(probe, srs.rtmp_url(stream_name), rw_timeout_s=3, timeout_s=30)
    srs.wait_players(stream_name, 3)

    pub = clients.add(publish_lavfi(srs.rtmp_url(stream_name), seconds=seconds, copy_to=published))
    _, err = pub.communicate(timeout=30)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"
    src = probe(published)
    assert (
        src.video is not None
        and src.video.codec_name == "h264"
        and (src.video.width, src.video.height) == (320, 240)
    )
    assert abs(src.packets - about) <= 10, f"published {src.packets} packets, expected about {about}"

    got_flv = flv.result()
    assert_plays_like(got_flv, src, what="ffprobe HTTP-FLV", tol=EXACT_ISH)
    a, b = rtmp_a.result(), rtmp_b.result()
    for what, got in (("ffprobe RTMP #1", a), ("ffprobe RTMP #2", b)):
        assert_plays_like(got, src, what=what, tol=EXACT_ISH)
    assert a.video and b.video and a.video.dts == b.video.dts, (
        "two RTMP players of one stream got different video"
    )
    assert a.audio and b.audio and a.audio.dts == b.audio.dts, (
        "two RTMP players of one stream got different audio"
    )


def test_newcomer_joins_a_live_stream(
    srs: SrsProcess, stream_name: str, clients: Clients, bg: ThreadPoolExecutor
) -> None:
    """The everyday case: players join a stream that has been live for a while (keyframe every
    second, join after ~2.5 s). Each sees one video and one audio stream, starts at the cached
    keyframe, and gets every frame from there to the end."""
    path = lavfi_clip(6, gop=25)
    src = probe(path)
    assert src.video is not None and src.audio is not None
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), path))
    srs.wait_log(f"publish ip=127.0.0.1 url=/live/{stream_name} ")
    time.sleep(2.5)
    flv = bg.submit(probe, srs.flv_url(stream_name), rw_timeout_s=5, timeout_s=30)
    rtmp = bg.submit(probe, srs.rtmp_url(stream_name), rw_timeout_s=3, timeout_s=30)
    _, err = pub.communicate(timeout=30)
    assert pub.returncode == 0, f"publisher failed: {err.decode(errors='replace')}"

    problems: list[str] = []
    for what, fut in (("HTTP-FLV", flv), ("RTMP", rtmp)):
        got = fut.result(timeout=20)
        kinds = sorted(f"{s.codec_type}:{s.codec_name}" for s in got.streams)
        if kinds != ["audio:aac", "video:h264"]:
            problems.append(f"{what} newcomer: expected one audio and one video stream, found {kinds}")
        if got.video is None or got.audio is None:
            continue
        if not got.video.key[0]:
            problems.append(f"{what} newcomer: the first picture is not a keyframe")
        start = got.video.dts[0]
        if not 1.5 <= start <= 3.5:
            problems.append(f"{what} newcomer: starts at {start:.2f}s, not at the keyframe before the join")
        for mine, theirs in ((got.video, src.video), (got.audio, src.audio)):
            n = sum(1 for d in theirs.dts if d >= start - 0.001)
            try:
                assert_stream_matches(
                    mine, theirs, what=f"{what} newcomer", expected_frames=n, tol=Tolerance(0, 2)
                )
            except AssertionError as e:
                problems.append(str(e).splitlines()[0])
    assert not problems, "\n".join(problems)
