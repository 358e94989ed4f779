"""DVR from an RTMP publish (in-process server): files appear under dvr_path (``.tmp`` while
recording, renamed at close), on_dvr carries SRS's payload, dvr_apply selects streams, a
republish opens a new file, an unwritable dvr_path costs one error line and no player."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from srs.app import App
from srs.config import parse_text
from srs.format import amf0, flv, mp4
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags
from support.server import Ports, render_conf

from .conftest import Running, start_app
from .test_hooks_receiver import Receiver

TAGS = list(flv_tags(clip("bbb.flv")))
AV = [t for t in TAGS if t.tag_type != flv.TagType.SCRIPT]
META = next(t for t in TAGS if t.tag_type == flv.TagType.SCRIPT)
VIDEO_FRAMES = sum(
    1 for t in AV if t.tag_type == flv.TagType.VIDEO and not flv.is_video_sequence_header(t.body)
)


def dvr_body(path: str, plan: str = "session", extra: str = "") -> str:
    return f"""
    dvr {{
        enabled on;
        dvr_plan {plan};
        dvr_path {path};
        dvr_duration 3;
        {extra}
    }}
    """


async def publish(port: int, stream: str = "s", tags: list[flv.FlvTag] | None = None) -> None:
    c = await RtmpClient.open(port)
    await c.publish(stream)
    await c.send_tags([META, *(AV if tags is None else tags)])
    await asyncio.sleep(0.2)
    await c.close()


async def wait_files(d: Path, pattern: str, n: int = 1, timeout_s: float = 5) -> list[Path]:
    for _ in range(int(timeout_s / 0.05)):
        found = sorted(d.glob(pattern)) if d.exists() else []
        if len(found) >= n:
            return found
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{n} x {pattern} in {d}: {list(d.rglob('*')) if d.exists() else 'no dir'}")


async def drained(r: Running) -> None:
    await asyncio.wrap_future(r.app.dvr.pending())


async def test_session_file_and_on_dvr_payload(tmp_path: Path) -> None:
    receiver = await Receiver().start()
    dvr = tmp_path / "dvr"
    hooks = f"http_hooks {{ enabled on; on_dvr {receiver.url('/api/v1/dvrs')}; }}"
    r = await start_app(tmp_path, vhost_body=dvr_body(f"{dvr}/[app]/[stream].[timestamp].flv") + hooks)
    try:
        c = await RtmpClient.open(r.ports.rtmp)
        await c.publish("s?token=1")
        await c.send_tags([META, *AV[:100]])
        tmp = await wait_files(dvr / "live", "s.*.flv.tmp")  # recording: the .tmp name
        await c.send_tags(AV[100:])
        await asyncio.sleep(0.2)
        await c.close()
        [done] = await wait_files(dvr / "live", "s.*.flv")
        assert done.name == tmp[0].name[: -len(".tmp")] and not tmp[0].exists()
        _, tags = flv.parse_file(done.read_bytes(), strict=True)
        video = [
            t for t in tags if t.tag_type == flv.TagType.VIDEO and not flv.is_video_sequence_header(t.body)
        ]
        assert len(video) == VIDEO_FRAMES
        _, meta = amf0.decode_all(tags[0].body)
        assert meta["filesize"] == done.stat().st_size and 9.9 < meta["duration"] < 10.3
        [call] = await receiver.wait("on_dvr")
        body = call.json
        assert call.method == "POST" and call.path == "/api/v1/dvrs"
        assert body["action"] == "on_dvr" and body["file"] == str(done)
        assert (body["vhost"], body["app"], body["stream"], body["param"]) == (
            "__defaultVhost__",
            "live",
            "s",
            "?token=1",
        )
        assert body["cwd"] == os.getcwd() and body["stream_url"] == "/live/s"
        assert body["tcUrl"] == f"rtmp://127.0.0.1:{r.ports.rtmp}/live"
        assert {"server_id", "service_id", "ip"} <= set(body) and body[
            "client_id"
        ]  # stream_id: while it lives
    finally:
        await r.app.stop(graceful=False)
        await receiver.stop()


async def test_segment_plan_files_and_one_on_dvr_each(tmp_path: Path) -> None:
    receiver = await Receiver().start()
    dvr = tmp_path / "dvr"
    hooks = f"http_hooks {{ enabled on; on_dvr {receiver.url('/dvr')}; }}"
    body = dvr_body(f"{dvr}/[app]/[stream].[timestamp].flv", "segment") + hooks
    r = await start_app(tmp_path, vhost_body=body)
    try:
        await publish(r.ports.rtmp)
        await asyncio.sleep(0.3)
        await drained(r)
        found = sorted((dvr / "live").glob("s.*.flv"))
        assert len(found) >= 2 and not list((dvr / "live").glob("*.tmp"))
        total = 0
        for p in found:
            _, tags = flv.parse_file(p.read_bytes(), strict=True)
            assert tags[0].tag_type == flv.TagType.SCRIPT
            frames = [
                t
                for t in tags
                if t.tag_type == flv.TagType.VIDEO and not flv.is_video_sequence_header(t.body)
            ]
            assert flv.is_video_keyframe(frames[0].body)
            total += len(frames)
        assert total == VIDEO_FRAMES
        calls = await receiver.wait("on_dvr", len(found))
        assert sorted(c.json["file"] for c in calls) == [str(p) for p in found]
    finally:
        await r.app.stop(graceful=False)
        await receiver.stop()


async def test_dvr_apply_and_republish(tmp_path: Path) -> None:
    dvr = tmp_path / "dvr"
    body = dvr_body(f"{dvr}/[app]/[stream].[timestamp].flv", extra="dvr_apply live/yes;")
    r = await start_app(tmp_path, vhost_body=body)
    try:
        await publish(r.ports.rtmp, "no", AV[:50])
        await publish(r.ports.rtmp, "yes", AV[:50])
        await publish(r.ports.rtmp, "yes", AV[:50])
        await asyncio.sleep(0.2)
        await drained(r)
        names = sorted(p.name for p in (dvr / "live").iterdir())
        assert len(names) == 2 and all(n.startswith("yes.") and n.endswith(".flv") for n in names)
    finally:
        await r.app.stop(graceful=False)


async def test_unwritable_dvr_path_one_error_line_and_players_keep_the_stream(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="srs")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where dvr_path wants a directory")
    body = dvr_body(f"{blocker}/[app]/[stream].[timestamp].flv", "segment")
    r = await start_app(tmp_path, vhost_body=body)
    try:
        player = await RtmpClient.open(r.ports.rtmp)
        await player.play("s")
        await publish(r.ports.rtmp)
        await player.wait_media(len(AV) - 5, timeout_s=5)
        assert len(player.media) >= len(AV) - 5  # the RTMP player got the whole stream
        await drained(r)
        errors = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.ERROR]
        assert len(errors) == 1 and "DVR: /live/s cannot write" in errors[0], errors
        await player.close()
    finally:
        await r.app.stop(graceful=False)


async def test_an_existing_file_is_never_appended_to(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="srs")
    dvr = tmp_path / "dvr"
    (dvr / "live").mkdir(parents=True)
    (dvr / "live" / "s.flv").write_bytes(b"keep me")
    r = await start_app(tmp_path, vhost_body=dvr_body(f"{dvr}/[app]/[stream].flv"))
    try:
        await publish(r.ports.rtmp, tags=AV[:50])
        await asyncio.sleep(0.2)
        await drained(r)
        assert (dvr / "live" / "s.flv").read_bytes() == b"keep me"
        assert any("can't append to exists path" in rec.getMessage() for rec in caplog.records)
    finally:
        await r.app.stop(graceful=False)


async def test_server_stop_closes_the_recording(tmp_path: Path) -> None:
    dvr = tmp_path / "dvr"
    r = await start_app(tmp_path, vhost_body=dvr_body(f"{dvr}/[app]/[stream].[timestamp].mp4"))
    c = await RtmpClient.open(r.ports.rtmp)
    await c.publish("s")
    await c.send_tags([META, *AV[:200]])
    await wait_files(dvr / "live", "s.*.mp4.tmp")
    await asyncio.sleep(0.2)
    await r.app.stop(graceful=True)
    await c.close()
    [done] = list((dvr / "live").iterdir())
    assert done.suffix == ".mp4"  # renamed: complete
    tracks = mp4.read_init(done.read_bytes())
    assert [t.codec for t in tracks] == ["avc1", "mp4a"]
    assert mp4.read_fragments(done.read_bytes())


async def test_reload_turns_dvr_on_and_off_for_a_live_stream(tmp_path: Path) -> None:
    dvr = tmp_path / "dvr"
    ports = Ports()
    on = render_conf(ports, vhost_body=dvr_body(f"{dvr}/[app]/[stream].[timestamp].flv"))
    off = render_conf(ports, vhost_body="")
    app = App(parse_text(off))
    await app.start()
    try:
        player = await RtmpClient.open(ports.rtmp)
        await player.play("s")
        pub = await RtmpClient.open(ports.rtmp)
        await pub.publish("s")
        await pub.send_tags([META, *AV[:150]])
        assert (await app.reload(parse_text(on))).ok  # on: a recording starts mid-stream
        await wait_files(dvr / "live", "s.*.flv.tmp")
        await pub.send_tags(AV[150:400])
        await asyncio.sleep(0.2)
        assert (await app.reload(parse_text(off))).ok  # off: the file is closed
        await pub.send_tags(AV[400:])
        [done] = await wait_files(dvr / "live", "s.*.flv")
        await asyncio.wrap_future(app.dvr.pending())
        assert not list((dvr / "live").glob("*.tmp"))
        _, tags = flv.parse_file(done.read_bytes(), strict=True)
        # It starts as a newcomer would: metadata, sequence headers, a keyframe.
        assert tags[0].tag_type == flv.TagType.SCRIPT
        frames = [
            t for t in tags if t.tag_type == flv.TagType.VIDEO and not flv.is_video_sequence_header(t.body)
        ]
        assert flv.is_video_keyframe(frames[0].body) and len(frames) > 100
        await player.wait_media(len(AV) - 5, timeout_s=5)  # the player never noticed
        await pub.close()
        await player.close()
    finally:
        await app.stop(graceful=False)


async def test_a_crash_leftover_of_the_same_name_is_kept(tmp_path: Path) -> None:
    dvr = tmp_path / "dvr"
    (dvr / "live").mkdir(parents=True)
    (dvr / "live" / "s.flv.tmp").write_bytes(b"FLV crashed recording")
    r = await start_app(tmp_path, vhost_body=dvr_body(f"{dvr}/[app]/[stream].flv"))
    try:
        await publish(r.ports.rtmp, tags=AV[:50])
        await asyncio.sleep(0.2)
        await drained(r)
        [kept] = list((dvr / "live").glob("s.crashed-*.flv"))
        assert kept.read_bytes() == b"FLV crashed recording"
        flv.parse_file((dvr / "live" / "s.flv").read_bytes(), strict=True)  # the new recording
    finally:
        await r.app.stop(graceful=False)


async def test_disk_full_mid_recording_one_error_line_and_the_stream_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="srs")
    dvr = tmp_path / "dvr"
    receiver = await Receiver().start()
    hooks = f"http_hooks {{ enabled on; on_dvr {receiver.url('/dvr')}; }}"
    r = await start_app(tmp_path, vhost_body=dvr_body(f"{dvr}/[app]/[stream].[timestamp].flv") + hooks)
    try:
        player = await RtmpClient.open(r.ports.rtmp)
        await player.play("s")
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("s")
        await pub.send_tags([META, *AV[:100]])
        await wait_files(dvr / "live", "s.*.flv.tmp")
        [(sink, _)] = r.app.dvr._sinks.values()

        def disk_full() -> None:  # on the worker thread, in order with the writes
            assert sink.file is not None
            sink.file.close()
            sink.file = open("/dev/full", "wb")  # noqa: SIM115 - every write: ENOSPC

        await asyncio.wrap_future(r.app.dvr._pool.submit(disk_full))
        await pub.send_tags(AV[100:])
        await player.wait_media(len(AV) - 5, timeout_s=5)  # the player got the whole stream
        await asyncio.sleep(0.2)
        await pub.close()
        await drained(r)
        errors = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.ERROR]
        assert len(errors) == 1 and "No space left on device" in errors[0], errors
        await asyncio.sleep(0.3)
        assert receiver.actions("on_dvr") == []  # an incomplete file is not announced
        await player.close()
    finally:
        await r.app.stop(graceful=False)
        await receiver.stop()


async def test_an_illegal_plan_records_nothing_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dvr = tmp_path / "dvr"
    r = await start_app(tmp_path, vhost_body=dvr_body(f"{dvr}/[app]/[stream].flv", plan="append"))
    try:
        await publish(r.ports.rtmp, tags=AV[:50])
        assert not dvr.exists()
        assert any("illegal plan=append" in rec.getMessage() for rec in caplog.records)
    finally:
        await r.app.stop(graceful=False)
