"""``kill -TERM`` while a stream is live: the server stops gracefully, and players' recordings
end cleanly (ffmpeg exits 0 and the FLV files are complete and decode without error)."""

from __future__ import annotations

import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.checks import Tolerance, assert_stream_matches
from support.flv import capture_http_flv
from support.media import clip
from support.server import SrsProcess
from support.tools import Clients, probe, publish_file, record_popen

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


def decode_errors(path: Path) -> str:
    """Decode every frame of a file with ffmpeg; what it complains about (empty: clean)."""
    r = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return r.stderr.decode(errors="replace") + ("" if r.returncode == 0 else f"(exit {r.returncode})")


def test_sigterm_ends_players_cleanly(
    srs: SrsProcess, stream_name: str, clients: Clients, bg: ThreadPoolExecutor, tmp_path: Path
) -> None:
    path = clip("bbb.flv")
    src = probe(path)
    assert src.video is not None and src.audio is not None
    rtmp = clients.add(record_popen(srs.rtmp_url(stream_name), tmp_path / "rtmp.flv"))
    flv = clients.add(record_popen(srs.flv_url(stream_name), tmp_path / "flv.flv"))
    flv_raw = bg.submit(capture_http_flv, srs.flv_url(stream_name), max_seconds=30)
    srs.wait_players(stream_name, 3)
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), path))
    srs.wait_log(f"publish ip=127.0.0.1 url=/live/{stream_name} ")
    time.sleep(3)
    assert pub.poll() is None and rtmp.poll() is None and flv.poll() is None

    stopped_at = time.monotonic()
    srs.send(signal.SIGTERM)
    assert srs.proc is not None
    assert srs.proc.wait(10) == 0, "the server did not exit 0 on SIGTERM"
    assert time.monotonic() - stopped_at < 5, "graceful stop took too long"
    assert "stopped" in srs.log().splitlines()[-1]

    cap = flv_raw.result(timeout=10)
    assert cap.ended, "the HTTP-FLV response was not ended cleanly (no chunked terminator)"
    assert cap.video() and cap.audio()
    played_s = time.monotonic() - stopped_at + 3  # about how much media the players got
    for what, rec, name in (("RTMP", rtmp, "rtmp.flv"), ("HTTP-FLV", flv, "flv.flv")):
        _, err = rec.communicate(timeout=10)
        assert rec.returncode == 0, (
            f"ffmpeg {what} player did not end cleanly: {err.decode(errors='replace')}"
        )
        out = tmp_path / name
        got = probe(out)
        assert got.format_name == "flv" and got.video is not None and got.audio is not None
        assert got.video.duration > 2, f"{what}: only {got.video.duration:.2f}s recorded"
        # The recording is the source's first N seconds: compare with exactly that much of it.
        for mine, theirs in ((got.video, src.video), (got.audio, src.audio)):
            n = theirs.frames_before(mine.duration + 0.001)
            assert_stream_matches(
                mine, theirs, what=f"{what} recording", expected_frames=n, tol=Tolerance(0.0, 2)
            )
            assert mine.duration <= played_s + 1
        assert decode_errors(out) == "", f"{what} recording does not decode cleanly"
    pub.wait(10)
    assert pub.returncode is not None, "the publisher was left hanging"
