"""DVR files of an ffmpeg RTMP publish, read by ffprobe/ffmpeg: FLV and MP4, session and segment
plans; and the crash test: a SIGKILLed server leaves a recording that plays and holds all but
about the last second."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from srs.format import flv
from support.media import clip, lavfi_clip
from support.server import SrsProcess, StartServer
from support.tools import Clients, ProbeResult, probe, publish_file, publish_raw_flv

pytestmark = pytest.mark.interop

PLAYER_OUT = ("-c", "copy", "-flush_packets", "1", "-f", "flv")  # on disk as it arrives


def dvr_body(ext: str, plan: str, duration_s: int = 3) -> str:
    return f"""
    dvr {{
        enabled         on;
        dvr_plan        {plan};
        dvr_path        ./objs/nginx/html/[app]/[stream].[timestamp].{ext};
        dvr_duration    {duration_s};
        dvr_wait_keyframe on;
    }}
    http_remux {{
        enabled     on;
        mount       [vhost]/[app]/[stream].flv;
    }}
    """


def recordings(srs: SrsProcess, stream: str, ext: str) -> Path:
    return srs.workdir / "objs" / "nginx" / "html" / "live"


def wait_closed(d: Path, stream: str, ext: str, timeout_s: float = 20) -> list[Path]:
    """The recordings once none is still being written (no ``.tmp`` left) for half a second: a
    segment plan closes one file before it opens the next, so one look could fall in between."""
    deadline = time.monotonic() + timeout_s
    settled: list[Path] | None = None
    since = 0.0
    while time.monotonic() < deadline:
        done = sorted(d.glob(f"{stream}.*.{ext}")) if d.exists() else []
        if done and not list(d.glob(f"{stream}.*.tmp")):
            if done != settled:
                settled, since = done, time.monotonic()
            elif time.monotonic() - since >= 0.5:
                return done
        else:
            settled = None
        time.sleep(0.1)
    raise TimeoutError(f"recordings of {stream} in {d}: {list(d.iterdir()) if d.exists() else 'none'}")


def decodes(path: Path) -> str:
    """ffmpeg decodes every frame of ``path``: its error output ("" when clean)."""
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stderr.decode(errors="replace")


def assert_same_media(got: ProbeResult, src: ProbeResult, *, tol: int = 1) -> None:
    assert got.video is not None and got.audio is not None and src.video is not None and src.audio is not None
    assert (got.video.codec_name, got.video.width, got.video.height) == (
        src.video.codec_name,
        src.video.width,
        src.video.height,
    )
    assert (got.audio.codec_name, got.audio.sample_rate) == (src.audio.codec_name, src.audio.sample_rate)
    assert abs(got.video.frames - src.video.frames) <= tol, (got.video.frames, src.video.frames)
    assert abs(got.audio.frames - src.audio.frames) <= tol, (got.audio.frames, src.audio.frames)


@pytest.mark.parametrize("ext", ["flv", "mp4"])
def test_session_plan_one_file_with_the_whole_stream(
    ext: str, start_srs: StartServer, stream_name: str, clients: Clients
) -> None:
    srs = start_srs(vhost_body=dvr_body(ext, "session"))
    src = probe(clip("bbb.flv"))
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), clip("bbb.flv"), realtime=False))
    _, err = pub.communicate(timeout=60)
    assert pub.returncode == 0, err.decode(errors="replace")
    [path] = wait_closed(recordings(srs, stream_name, ext), stream_name, ext)
    got = probe(path)
    assert got.format_name.startswith("flv" if ext == "flv" else "mov,mp4")
    assert_same_media(got, src)
    assert got.video is not None and src.video is not None
    assert abs(got.video.duration - src.video.duration) < 0.1
    # A/V sync: the first audio and video timestamps as close as in the source (within 100 ms).
    assert got.audio is not None and src.audio is not None
    skew = (got.audio.dts[0] - got.video.dts[0]) - (src.audio.dts[0] - src.video.dts[0])
    assert abs(skew) < 0.1, skew
    assert decodes(path) == ""
    srs.wait_log(f"dvr stream {stream_name} to file")


@pytest.mark.parametrize("ext", ["flv", "mp4"])
def test_enhanced_rtmp_hevc_recorded(
    ext: str, start_srs: StartServer, stream_name: str, clients: Clients
) -> None:
    """hevc.flv (Enhanced RTMP ``hvc1`` + AAC, sent tag for tag): HEVC in the FLV as sent, and
    ``hvc1`` in the MP4."""
    srs = start_srs(vhost_body=dvr_body(ext, "session"))
    pub = clients.add(publish_raw_flv(srs.rtmp_url(stream_name), clip("hevc.flv")))
    _, err = pub.communicate(timeout=60)
    assert pub.returncode == 0, err.decode(errors="replace")
    [path] = wait_closed(recordings(srs, stream_name, ext), stream_name, ext)
    if ext == "flv":  # ffmpeg 5.1 cannot demux Enhanced RTMP FLV: check the tags
        _, tags = flv.parse_file(path.read_bytes(), strict=True)
        frames = [
            t
            for t in tags
            if t.tag_type == flv.TagType.VIDEO and flv.parse_video(t.body).packet_type in (1, 3)
        ]
        assert len(frames) == 250 and flv.parse_video(frames[0].body).codec == flv.VideoCodec.HEVC
        return
    got = probe(path)
    assert got.video is not None and got.audio is not None
    assert (got.video.codec_name, got.video.width, got.video.height) == ("hevc", 640, 360)
    assert got.audio.codec_name == "aac"
    assert got.video.frames == 250 and got.audio.frames == 432
    assert decodes(path) == ""


@pytest.mark.parametrize("ext", ["flv", "mp4"])
def test_segment_plan_files_of_dvr_duration(
    ext: str, start_srs: StartServer, stream_name: str, clients: Clients
) -> None:
    source = lavfi_clip(10, gop=25)  # a keyframe every second
    srs = start_srs(vhost_body=dvr_body(ext, "segment", 3))
    src = probe(source)
    pub = clients.add(publish_file(srs.rtmp_url(stream_name), source, realtime=False))
    _, err = pub.communicate(timeout=60)
    assert pub.returncode == 0, err.decode(errors="replace")
    paths = wait_closed(recordings(srs, stream_name, ext), stream_name, ext)
    # SRS's rule: reaped on the first keyframe once the file holds 3 s; the keyframe at 3 s
    # comes while the file holds 2.96 s (the last frame before it), so files of 4 s.
    assert len(paths) == 3, paths
    parts = [probe(p) for p in paths]
    video_frames = audio_frames = 0
    for i, got in enumerate(parts):
        assert got.video is not None and got.audio is not None
        assert got.video.codec_name == "h264" and got.audio.codec_name == "aac"
        assert got.video.key[0], f"file {i} starts with a keyframe"
        if i < len(parts) - 1:
            assert 3 <= got.video.duration + 0.04 <= 3 + 1 + 0.1, got.video.duration  # + one GOP
        video_frames += got.video.frames
        audio_frames += got.audio.frames
        decodes(paths[i])
    assert src.video is not None and src.audio is not None
    assert video_frames == src.video.frames
    assert abs(audio_frames - src.audio.frames) <= len(parts)  # an AAC frame may straddle a cut


@pytest.mark.parametrize("ext", ["mp4", "flv"])
def test_kill_9_mid_recording_leaves_a_playable_file(
    ext: str, start_srs: StartServer, stream_name: str, clients: Clients, tmp_path: Path
) -> None:
    srs = start_srs(vhost_body=dvr_body(ext, "session"))
    d = recordings(srs, stream_name, ext)
    # An RTMP player records what the server had sent when it died: the reference.
    seen = tmp_path / "player.flv"
    player = clients.add(
        subprocess.Popen(
            [*("ffmpeg", "-nostdin", "-v", "error", "-i", srs.rtmp_url(stream_name)), *PLAYER_OUT, str(seen)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    )
    srs.wait_players(stream_name)
    clients.add(publish_file(srs.rtmp_url(stream_name), clip("avatar.flv"), realtime=True))
    # Wait until the recording holds 5 s (the .tmp file, readable while it is written), then kill.
    deadline = time.monotonic() + 30
    tmp: Path | None = None
    while time.monotonic() < deadline:
        found = list(d.glob(f"{stream_name}.*.{ext}.tmp")) if d.exists() else []
        if found:
            tmp = found[0]
            try:
                p = probe(tmp, timeout_s=10)
            except subprocess.CalledProcessError:
                p = None
            if p is not None and p.video is not None and p.video.duration >= 5:
                break
        time.sleep(0.2)
    else:
        pytest.fail(f"no 5 s recording in {d}")
    assert tmp is not None
    time.sleep(0.5)  # the kill lands between two writes
    srs.stop(signal.SIGKILL)
    player.communicate(timeout=30)
    assert tmp.exists() and not list(d.glob(f"{stream_name}.*.{ext}"))  # never renamed: the .tmp is it
    got = probe(tmp)
    ref = probe(seen)
    assert got.video is not None and got.audio is not None and ref.video is not None
    assert (got.video.codec_name, got.audio.codec_name) == ("h264", "aac")
    decodes(tmp)
    # All but about the last second of what the server had when it was killed.
    lost = ref.video.duration - got.video.duration
    print(
        f"{ext}: the player had {ref.video.duration:.2f} s, the killed recording {got.video.duration:.2f} s"
    )
    assert lost < 1.5, (ref.video.duration, got.video.duration)
    assert got.video.monotonic() and got.video.key[0]
