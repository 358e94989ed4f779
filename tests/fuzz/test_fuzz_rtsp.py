"""The RTSP codec takes untrusted bytes: only RtspError (an SrsError) escapes; SDP/Transport never raise."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from srs.protocol.rtc.rtp import RtpPacket
from srs.protocol.rtsp.message import RtspMessage, RtspParser, interleave, parse_transport, serialize_request
from srs.protocol.rtsp.sdp import audio_track, b64_sets, parse_announce, video_track
from srs.protocol.rtsp.session import RtspSession
from srs.remux.rtsp_in import DecodeTimes, RtspIngest, aac_units, plain
from srs.server.rtsp import request_of, split_target
from srs.util.errors import SrsError

EXAMPLES = int(os.environ.get("SRS_FUZZ_EXAMPLES", "300"))
PIECES = st.sampled_from(
    [
        b"OPTIONS rtsp://h/live/x RTSP/1.0\r\n",
        b"RTSP/1.0 200 OK\r\n",
        b"CSeq: 3\r\n",
        "CSeq: \u00b2\r\nContent-Length: \u00b9\r\n".encode(),
        b"Content-Length: 5\r\n",
        b"Content-Length: x\r\n",
        b"Session: 1;timeout=60\r\n",
        b"\r\n",
        b"\n",
        b"$",
        b"\x00\x04",
        b"abcd",
        serialize_request("SETUP", "rtsp://h/a/b/trackID=0", 1, {"Transport": "RTP/AVP/TCP;interleaved=0-1"}),
        interleave(0, b"\x80" * 20),
    ]
)
STREAM = st.lists(st.one_of(PIECES, st.binary(max_size=40)), max_size=12)


@settings(max_examples=EXAMPLES, deadline=None)
@given(STREAM, st.integers(1, 64))
def test_parser_raises_only_srs_errors(pieces: list[bytes], step: int) -> None:
    data = b"".join(pieces)
    p = RtspParser()
    try:
        for i in range(0, len(data), step):
            for m in p.feed(data[i : i + step]):
                if not hasattr(m, "channel"):
                    _ = (m.cseq, m.session)  # type: ignore[union-attr]
    except SrsError:
        pass


TEXT = st.text(
    alphabet=st.sampled_from(list('RTP/AVPTCUDunicast;=-,0123456789 mode"interleavedclient_port')),
    max_size=80,
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(TEXT, st.text(max_size=60)))
def test_transport_and_urls_never_raise(value: str) -> None:
    for t in parse_transport(value):
        assert t.interleaved is None or all(0 <= x <= 65535 for x in t.interleaved)
    split_target(value)
    request_of("rtsp://h/" + value, "")


SDP_LINES = st.sampled_from(
    [
        "m=video 0 RTP/AVP 96",
        "m=audio 0 RTP/AVP 97",
        "m=audio x",
        "a=rtpmap:96 H264/90000",
        "a=rtpmap:97 MPEG4-GENERIC/44100/2",
        "a=rtpmap:97 opus/x/y",
        "a=fmtp:97 config=1210;mode=AAC-hbr",
        "a=fmtp:96 ;;=;",
        "a=control:trackID=0",
    ]
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.one_of(SDP_LINES, st.text(max_size=30)), max_size=12), st.binary(max_size=40))
def test_sdp_and_headers_never_raise(lines: list[str], blob: bytes) -> None:
    parse_announce("\r\n".join(lines))
    video_track(b"\x17\x00\x00\x00\x00" + blob)
    video_track(b"\x1c\x00\x00\x00\x00" + blob)
    audio_track(b"\xaf\x00" + blob)
    try:
        b64_sets(blob.decode("latin-1"))
    except SrsError:
        pass


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["audio", "video"]), st.binary(max_size=60)), max_size=30))
def test_ingest_takes_any_rtp(packets: list[tuple[str, bytes]]) -> None:
    tracks = parse_announce(
        "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/44100/2\r\n"
        "a=fmtp:97 mode=AAC-hbr;sizelength=13;indexlength=3;config=1210\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
        "a=fmtp:96 sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==\r\n"
    )
    ingest = RtspIngest(tracks[1], tracks[0])
    times = DecodeTimes()
    for i, (kind, payload) in enumerate(packets):
        try:
            aac_units(payload)
        except SrsError:
            pass
        pkt = RtpPacket(
            payload_type=96, sequence_number=i, timestamp=i * 3000, ssrc=1, marker=i % 3 == 0, payload=payload
        )
        times.push(plain(ingest.on_rtp(kind, pkt, i * 20)))
    times.push(plain(ingest.poll(10_000) + ingest.flush()))
    times.flush()


METHODS = [
    "OPTIONS",
    "DESCRIBE",
    "ANNOUNCE",
    "SETUP",
    "PLAY",
    "PAUSE",
    "RECORD",
    "TEARDOWN",
    "GET_PARAMETER",
    "X",
]


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(METHODS),
            st.sampled_from(["", "sid", "zz"]),
            st.sampled_from([None, 0, 1, -1]),
            st.booleans(),
        ),
        max_size=20,
    )
)
def test_session_machine_never_raises(steps: list[tuple[str, str, int | None, bool]]) -> None:
    s = RtspSession("sid")
    for method, session, track, ok in steps:
        m = RtspMessage(method=method, uri="rtsp://h/a/b", headers={"session": session} if session else {})
        status = s.check(m, track)
        assert status in (None, 200, 454, 455, 459, 501)
        if status is None and ok:
            {
                "DESCRIBE": lambda: s.described(2),
                "ANNOUNCE": lambda: s.announced(2),
                "SETUP": s.set_up,
                "PLAY": s.started,
                "RECORD": s.started,
                "PAUSE": s.paused,
                "TEARDOWN": s.torn_down,
            }[method]()
