"""Fuzz the DVR plans with whatever a publisher may send (metadata the recorder re-reads to patch
its size and duration, frames the fMP4 writer parses): they never raise, and every file they close
is a whole FLV."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srs.config.schema_vhost import DvrConfig
from srs.format import amf0, flv
from srs.media.message import AUDIO, DATA, VIDEO, MediaMessage
from srs.remux.dvr import AppendFile, CloseFile, DvrPlan, OpenFile
from srs.remux.rtmp import media_from_rtmp

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SEEDS = [
    amf0.encode("onMetaData", {"duration": 3.0, "filesize": 1.0, "width": 640.0}),
    amf0.encode("onMetaData", amf0.EcmaArray(width=1.0)),
    bytes([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 4, 0x67, 0x64, 0, 0x1F, 1, 0, 0]),
    bytes([0xAF, 0, 0x12, 0x10]),
    bytes([0xAF, 1]) + bytes(20),
    bytes([0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41]),
]

messages = st.lists(
    st.tuples(
        st.sampled_from([AUDIO, VIDEO, DATA]),
        st.integers(min_value=-1000, max_value=1 << 33),
        st.one_of(st.sampled_from(SEEDS), st.binary(max_size=64)),
    ),
    max_size=40,
)


@FUZZ
@given(messages, st.sampled_from(["flv", "mp4"]), st.sampled_from(["session", "segment"]))
def test_plans_never_raise_and_close_whole_files(
    msgs: list[tuple[int, int, bytes]], ext: str, plan_name: str
) -> None:
    cfg = DvrConfig(enabled=True, plan=plan_name, duration_s=1, path=f"/d/[stream].{ext}", time_jitter="off")
    plan = DvrPlan(cfg, vhost="v", app="a", stream="s")
    actions = plan.on_publish(0)
    for kind, ts, payload in msgs:
        if kind == DATA:
            m: MediaMessage | None = MediaMessage(DATA, 0, payload)
        else:
            m = media_from_rtmp(kind, ts, payload)
        if m is not None:
            actions += plan.on_message(m, ts)
    actions += plan.on_unpublish(0)
    if ext != "flv":
        return
    data = bytearray()
    for a in actions:
        if isinstance(a, OpenFile):
            data = bytearray()
        elif isinstance(a, AppendFile):
            data += a.data
        elif isinstance(a, CloseFile):
            for off, patch in a.patches:
                assert off + len(patch) <= len(data)
                data[off : off + len(patch)] = patch
            flv.parse_file(bytes(data), strict=True)
