"""DVR plans (sans-IO): session vs segment reaping, wait keyframe, dvr_apply, time_jitter, paths,
the FLV files they describe (metadata patched at close), the flush cadence."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from srs import SIGNATURE
from srs.config.schema_vhost import DvrConfig
from srs.format import amf0, flv, mp4
from srs.media.message import AUDIO, DATA, VIDEO, MediaMessage
from srs.remux.dvr import (
    Action,
    AppendFile,
    CloseFile,
    DvrClosed,
    DvrPlan,
    OpenFile,
    applies,
    base_dir,
    file_path,
    inside,
)
from srs.remux.rtmp import media_from_rtmp, metadata_from_values
from support.media import clip
from support.rtmp_client import flv_tags

T0 = 1_700_000_000_000  # wall clock of the publish (ms)


def messages(name: str) -> list[MediaMessage]:
    out: list[MediaMessage] = []
    for t in flv_tags(clip(name)):
        if t.tag_type == flv.TagType.SCRIPT:
            meta = metadata_from_values(t.timestamp, amf0.decode_all(t.body)[1:])
            if meta is not None:
                out.append(meta[0].with_timestamp(0))
        else:
            m = media_from_rtmp(int(t.tag_type), t.timestamp, t.body)
            if m is not None:
                out.append(m)
    return out


BBB = messages("bbb.flv")
VIDEO_FRAMES = sum(1 for m in BBB if m.kind == VIDEO and not m.sequence_header)
VIDEO_SAMPLES = sum(1 for m in BBB if m.kind == VIDEO and flv.parse_video(m.payload).packet_type in (1, 3))
AUDIO_FRAMES = sum(1 for m in BBB if m.kind == AUDIO and not m.sequence_header)
CFG = DvrConfig(enabled=True, path="/dvr/[app]/[stream].[timestamp].flv")


def record(cfg: DvrConfig, msgs: list[MediaMessage], offset_ms: int = 0) -> list[Action]:
    plan = DvrPlan(cfg, vhost="__defaultVhost__", app="live", stream="s")
    out = plan.on_publish(T0)
    for m in msgs:
        ts = m.timestamp + offset_ms if m.kind != DATA else 0
        out += plan.on_message(m.with_timestamp(ts), T0 + m.timestamp)
    return out + plan.on_unpublish(T0 + 20_000)


def files(actions: list[Action]) -> dict[str, bytes]:
    """What the worker leaves on disk: final name -> bytes."""
    done: dict[str, bytes] = {}
    cur = bytearray()
    for a in actions:
        if isinstance(a, OpenFile):
            cur = bytearray()
        elif isinstance(a, AppendFile):
            cur += a.data
        elif isinstance(a, CloseFile):
            for off, data in a.patches:
                cur[off : off + len(data)] = data
            done[a.path] = bytes(cur)
    return done


def tags_of(data: bytes) -> tuple[flv.FlvHeader, list[flv.FlvTag]]:
    return flv.parse_file(data, strict=True)


def test_session_plan_one_file_with_every_frame_and_patched_metadata() -> None:
    actions = record(CFG, BBB)
    out = files(actions)
    assert list(out) == [f"/dvr/live/s.{T0}.flv"]
    data = out[f"/dvr/live/s.{T0}.flv"]
    header, tags = tags_of(data)
    assert (header.has_audio, header.has_video) == (True, True)  # SRS writes both flags
    assert tags[0].tag_type == flv.TagType.SCRIPT and tags[0].timestamp == 0
    name, meta = amf0.decode_all(tags[0].body)
    assert name == "onMetaData" and list(meta)[-3:] == ["service", "filesize", "duration"]
    assert meta["service"] == SIGNATURE and meta["filesize"] == len(data)
    closed = [a for a in actions if isinstance(a, DvrClosed)]
    assert [c.path for c in closed] == [f"/dvr/live/s.{T0}.flv"]
    assert meta["duration"] == closed[0].duration_ms / 1000 and 9.9 < meta["duration"] < 10.2
    video = [t for t in tags if t.tag_type == flv.TagType.VIDEO]
    assert len(video) == VIDEO_FRAMES + 1  # + the sequence header
    assert sum(1 for t in tags if t.tag_type == flv.TagType.AUDIO) == AUDIO_FRAMES + 1
    assert tags[1].timestamp == 0  # time_jitter full: the file starts at zero


def test_tmp_name_while_recording_and_one_open_close_per_file() -> None:
    actions = record(CFG, BBB)
    [op] = [a for a in actions if isinstance(a, OpenFile)]
    [cl] = [a for a in actions if isinstance(a, CloseFile)]
    assert (op.tmp, cl.tmp, cl.path) == (op.path + ".tmp", op.path + ".tmp", op.path)
    assert isinstance(actions[0], OpenFile) and isinstance(actions[-1], DvrClosed)


def test_data_reaches_the_file_about_every_second() -> None:
    actions = record(CFG, BBB)
    appends = [a for a in actions if isinstance(a, AppendFile)]
    # ~10 s of media: one append per second (+ the tail at close), never one per message.
    assert 9 <= len(appends) <= 12
    # Each append holds whole tags: a file cut after any append parses.
    data = b""
    for a in appends[:-1]:
        data += a.data
        _, tags = tags_of(data)
        assert tags


@pytest.mark.parametrize(
    ("duration_s", "wait_keyframe", "files_min", "files_max"),
    [
        (3, True, 2, 4),  # reaped on the keyframe after 3 s
        (3, False, 3, 4),  # reaped on the first message after 3 s
        (0, True, 1, 1),  # dvr_duration 0: never reaped
        (60, True, 1, 1),
    ],
)
def test_segment_plan_reaping(duration_s: int, wait_keyframe: bool, files_min: int, files_max: int) -> None:
    cfg = replace(CFG, plan="segment", duration_s=duration_s, wait_keyframe=wait_keyframe)
    actions = record(cfg, BBB)
    out = files(actions)
    assert files_min <= len(out) <= files_max
    closed = [a for a in actions if isinstance(a, DvrClosed)]
    assert [c.path for c in closed] == list(out)
    total_video = 0
    for i, data in enumerate(out.values()):
        _, tags = tags_of(data)
        kinds = [t.tag_type for t in tags[:3]]
        # Every file starts with the metadata and both sequence headers (SRS: on_dvr_request_sh).
        assert kinds[0] == flv.TagType.SCRIPT and set(kinds[1:]) == {flv.TagType.VIDEO, flv.TagType.AUDIO}
        assert flv.is_video_sequence_header(next(t.body for t in tags if t.tag_type == flv.TagType.VIDEO))
        frames = [
            t for t in tags if t.tag_type == flv.TagType.VIDEO and not flv.is_video_sequence_header(t.body)
        ]
        total_video += len(frames)
        if wait_keyframe:
            assert flv.is_video_keyframe(frames[0].body)
        if i < len(out) - 1 and duration_s:
            assert closed[i].duration_ms >= duration_s * 1000
        assert tags[1].timestamp < 20  # each file has its own jitter: it starts near zero
    assert total_video == VIDEO_FRAMES


def test_segment_plan_every_reap_opens_a_new_name() -> None:
    cfg = replace(CFG, plan="segment", duration_s=2, path="/dvr/[app]/[stream].[timestamp].flv")
    opened = [a.path for a in record(cfg, BBB) if isinstance(a, OpenFile)]
    assert len(opened) == len(set(opened)) >= 2  # [timestamp] is the wall clock at open


def test_wait_keyframe_drops_video_before_the_first_keyframe() -> None:
    start = next(i for i, m in enumerate(BBB) if m.kind == VIDEO and m.keyframe and not m.sequence_header)
    nxt = next(
        i for i, m in enumerate(BBB) if i > start and m.kind == VIDEO and m.keyframe and m.timestamp > 0
    )
    heads = [m for m in BBB[: start + 1] if m.sequence_header or m.kind == DATA]
    msgs = heads + BBB[start + 1 : nxt + 5]  # starts with inter frames
    for wait, first_key in ((True, True), (False, False)):
        _, tags = tags_of(next(iter(files(record(replace(CFG, wait_keyframe=wait), msgs)).values())))
        frames = [
            t for t in tags if t.tag_type == flv.TagType.VIDEO and not flv.is_video_sequence_header(t.body)
        ]
        assert flv.is_video_keyframe(frames[0].body) is first_key
        audio = [t for t in tags if t.tag_type == flv.TagType.AUDIO]
        assert len(audio) == sum(1 for m in msgs if m.kind == AUDIO)  # audio is never held back


@pytest.mark.parametrize(
    ("jitter", "first_ts"),
    [("full", 9), ("zero", 0), ("off", 100_000)],  # full: a jump from 0 is one 10 ms step (SRS)
)
def test_time_jitter_of_the_file(jitter: str, first_ts: int) -> None:
    actions = record(replace(CFG, time_jitter=jitter), BBB[:200], offset_ms=100_000)
    _, tags = tags_of(next(iter(files(actions).values())))
    av = [t for t in tags if t.tag_type != flv.TagType.SCRIPT]
    assert av[0].timestamp == first_ts
    span = av[-1].timestamp - av[0].timestamp
    assert abs(span - (BBB[199].timestamp - BBB[0].timestamp)) < 30


def test_republish_closes_the_file_and_opens_another() -> None:
    plan = DvrPlan(CFG, vhost="v", app="live", stream="s")
    out = plan.on_publish(T0)
    for m in BBB[:50]:
        out += plan.on_message(m, T0)
    out += plan.on_publish(T0 + 5000)
    assert [type(a) for a in out if not isinstance(a, AppendFile)] == [
        OpenFile,
        CloseFile,
        DvrClosed,
        OpenFile,
    ]
    assert plan.current_path == f"/dvr/live/s.{T0 + 5000}.flv"
    assert plan.on_unpublish(T0) and plan.on_unpublish(T0) == []


def test_an_unpublish_without_media_still_closes_a_playable_file() -> None:
    plan = DvrPlan(CFG, vhost="v", app="live", stream="s")
    out = files(plan.on_publish(T0) + plan.on_unpublish(T0))
    header, tags = tags_of(next(iter(out.values())))
    assert tags == [] and header.has_video


@pytest.mark.parametrize(
    ("apply", "app", "stream", "yes"),
    [
        ((), "live", "s", True),
        (("all",), "live", "s", True),
        (("live/s",), "live", "s", True),
        (("live/s", "live/t"), "live", "t", True),
        (("live/s",), "live", "t", False),
        (("live/s",), "other", "s", False),
        (("all", "live/s"), "live", "x", False),  # SRS: "all" only counts alone
    ],
)
def test_dvr_apply(apply: tuple[str, ...], app: str, stream: str, yes: bool) -> None:
    assert applies(apply, app, stream) is yes


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("./objs/nginx/html/[app]/[stream].[timestamp].flv", f"./objs/nginx/html/live/s.{T0}.flv"),
        ("/d/[vhost]/[app]/[stream].mp4", "/d/__defaultVhost__/live/s.mp4"),
        ("/d/[app]", f"/d/live/s.{T0}.flv"),  # no file name: SRS appends /[stream].[timestamp].flv
        ("/d/[stream].[duration].flv", "/d/s.[duration].flv"),  # [duration] is expanded at close
        ("/d/[stream]-[seq].flv", "/d/s-[seq].flv"),  # SRS's DVR has no [seq]
        ("/d/[stream]-[999].flv", f"/d/s-{T0 % 1000:03d}.flv"),
    ],
)
def test_file_path_templates(template: str, expected: str) -> None:
    assert file_path(template, vhost="__defaultVhost__", app="live", stream="s", now_ms=T0) == expected


def test_file_path_date_parts_are_local_time() -> None:
    import time

    got = file_path("/d/[2006]/[01]/[02]/[15].[04].[05].[999].flv", vhost="v", app="a", stream="s", now_ms=T0)
    t = time.localtime(T0 / 1000)
    assert got == time.strftime("/d/%Y/%m/%d/%H.%M.%S.", t) + f"{T0 % 1000:03d}.flv"


@pytest.mark.parametrize(
    ("template", "base"),
    [
        ("./objs/nginx/html/[app]/[stream].[timestamp].flv", "./objs/nginx/html"),
        ("/data/dvr/[app]", "/data/dvr"),
        ("/data/dvr", "/data/dvr"),
        ("/data/dvr/x.flv", "/data/dvr"),
        ("[app]/[stream].flv", ""),
    ],
)
def test_base_dir(template: str, base: str) -> None:
    assert base_dir(template) == base


@pytest.mark.parametrize(
    ("path", "base", "yes"),
    [
        ("./objs/html/live/s.flv", "./objs/html", True),
        ("objs/html/live/../s.flv", "./objs/html", True),
        ("./objs/html/../x.flv", "./objs/html", False),
        ("/a/b/c.flv", "/a/b", True),
        ("/a/bc/c.flv", "/a/b", False),
        ("live/s.flv", "", True),
        ("../s.flv", "", False),
        ("/etc/s.flv", "", False),
    ],
)
def test_inside(path: str, base: str, yes: bool) -> None:
    assert inside(path, base) is yes


def test_duration_path_expanded_at_close() -> None:
    cfg = replace(CFG, path="/dvr/[stream].[duration].flv")
    [closed] = [a for a in record(cfg, BBB[:100]) if isinstance(a, DvrClosed)]
    assert closed.path == f"/dvr/s.{closed.duration_ms}.flv" and closed.duration_ms > 0


# --------------------------------------------------------------------------- MP4


MP4 = replace(CFG, path="/dvr/[app]/[stream].[timestamp].mp4")


def mp4_samples(data: bytes) -> tuple[list[mp4.Track], list[mp4.ReadSample]]:
    return mp4.read_init(data), mp4.read_fragments(data)


@pytest.mark.parametrize("name", ["bbb.flv", "hevc.flv"])
def test_mp4_session_file_holds_every_frame(name: str) -> None:
    msgs = messages(name)
    actions = record(MP4, msgs)
    [(path, data)] = files(actions).items()
    assert path == f"/dvr/live/s.{T0}.mp4"
    tracks, samples = mp4_samples(data)
    video_t = next(t for t in tracks if t.handler == mp4.VIDE)
    audio_t = next(t for t in tracks if t.handler == mp4.SOUN)
    assert video_t.codec == ("avc1" if name == "bbb.flv" else "hvc1") and audio_t.codec == "mp4a"
    frames = [m for m in msgs if m.kind == VIDEO and flv.parse_video(m.payload).packet_type in (1, 3)]
    got = [s for s in samples if s.track_id == video_t.track_id]
    assert len(got) == len(frames) and got[0].keyframe and got[0].dts == frames[0].timestamp
    assert sum(1 for s in samples if s.track_id == audio_t.track_id) == sum(
        1 for m in msgs if m.kind == AUDIO and not m.sequence_header
    )
    # Fragments cut before video frames: every video sample lasts until the next one.
    assert all(a.dts + a.duration == b.dts for a, b in itertools.pairwise(got))


def test_mp4_every_append_leaves_a_readable_file() -> None:
    """Crash safety: the file as it stands after any append is an init segment plus whole
    fragments, holding everything up to about a second ago."""
    actions = record(MP4, BBB)
    appends = [a for a in actions if isinstance(a, AppendFile)]
    assert 9 <= len(appends) <= 13
    data = b""
    last_dts = -1
    for a in appends:
        data += a.data
        tracks, samples = mp4_samples(data)
        assert len(tracks) == 2
        dts = max(s.dts for s in samples if s.track_id == tracks[0].track_id)
        assert dts > last_dts
        last_dts = dts
    assert last_dts >= 9800


def test_mp4_segment_plan_files_start_with_init_and_a_keyframe() -> None:
    cfg = replace(MP4, plan="segment", duration_s=3)
    out = files(record(cfg, BBB))
    assert len(out) >= 2
    total = 0
    for data in out.values():
        tracks, samples = mp4_samples(data)
        video = [s for s in samples if s.track_id == tracks[0].track_id]
        assert tracks[0].handler == mp4.VIDE and video[0].keyframe and video[0].dts <= 80  # bbb's first
        total += len(video)
    assert total == VIDEO_SAMPLES  # (MP4 has no end-of-sequence sample)


def test_mp4_audio_only_stream() -> None:
    msgs = [m for m in BBB if m.kind != VIDEO]
    [data] = files(record(MP4, msgs)).values()
    tracks, samples = mp4_samples(data)
    assert [t.handler for t in tracks] == [mp4.SOUN] and len(samples) == AUDIO_FRAMES


def test_files_opened_in_the_same_millisecond_get_distinct_names() -> None:
    cfg = replace(CFG, plan="segment", duration_s=1, wait_keyframe=False)
    plan = DvrPlan(cfg, vhost="v", app="live", stream="s")
    out = plan.on_publish(T0)
    for m in BBB:
        out += plan.on_message(m, T0)  # a publish much faster than real time: one wall-clock ms
    opened = [a.path for a in out if isinstance(a, OpenFile)]
    assert len(opened) >= 5 and len(set(opened)) == len(opened)


def test_mp4_new_codec_configuration_starts_a_new_file() -> None:
    """An encoder restarting with other settings on the same publish: the MP4 init segment
    cannot change, so a new file starts (FLV carries the new sequence header inline)."""
    avatar = messages("avatar.flv")
    msgs = BBB[:200] + [m.with_timestamp(m.timestamp + 10_000) for m in avatar[:200] if m.kind != DATA]
    out = files(record(MP4, msgs))
    assert len(out) == 2
    sizes = [
        (t.width, t.height) for data in out.values() for t in mp4.read_init(data) if t.handler == mp4.VIDE
    ]
    assert sizes == [(640, 360), (768, 320)]
    assert len(files(record(CFG, msgs))) == 1
