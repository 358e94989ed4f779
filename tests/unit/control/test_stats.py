"""Statistics (SRS ``SrsStatistic`` semantics) driven directly, without sockets: counts, lifetimes,
byte deltas, the sliding 30 s kbps, ordering and pages, frames and codec info."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from srs.codec import aac, h264
from srs.control.stats import WINDOW_SAMPLES, Statistics, Totals
from srs.format.flv_audio import AudioCodec, audio_body
from srs.format.flv_video import VideoCodec, video_body
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.media.registry import SourceRegistry
from srs.media.source import Source, SourceSettings
from srs.protocol.request import Request
from srs.server.policy import Client
from unit.codec.cases import AVATAR_PPS, AVATAR_SPS


class FakeConn:
    def __init__(self, cid: str, kind: str = "") -> None:
        self.cid = cid
        self.ip = "10.0.0.1"
        self.send_bytes = 0
        self.recv_bytes = 0
        self._kind = kind
        self.closed: str | None = None

    @property
    def kind(self) -> str:
        return self._kind

    def close(self, reason: str) -> None:
        self.closed = reason


class World:
    """A Statistics with a real source registry, a fake clock and helpers to make clients."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.registry = SourceRegistry(lambda cb: None, lambda vhost: SourceSettings())
        self.stats = Statistics(SimpleNamespace(registry=self.registry), clock=lambda: self.now)  # type: ignore[arg-type]

    def client(
        self, cid: str, kind: str = "rtmp-play", stream: str = "livestream", vhost: str = "__defaultVhost__"
    ) -> Client:
        req = Request(vhost=vhost, app="live", stream=stream, tc_url=f"rtmp://{vhost}/live", ip="10.0.0.1")
        c = Client(FakeConn(cid, kind), req, kind)  # type: ignore[arg-type]
        c.created = self.now
        return c

    def publish(self, c: Client) -> Source:
        self.stats.on_client(c)
        src = self.registry.fetch_or_create(c.request.stream_url, c.request.vhost)
        src.publish(c.conn)
        self.stats.on_stream_publish(c, src)
        return src

    def tick(self, n: int = 1, dt: float = 1.0) -> None:
        for _ in range(n):
            self.now += dt
            self.stats.sample(self.now)


@pytest.fixture
def w() -> World:
    return World()


def conn(c: Client) -> FakeConn:
    assert isinstance(c.conn, FakeConn)
    return c.conn


def test_publisher_and_players_are_counted_in_stream_and_vhost(w: World) -> None:
    pub = w.client("pub00001", "fmle-publish")
    w.publish(pub)
    players = [w.client(f"play000{i}") for i in range(2)]
    for p in players:
        w.stats.on_client(p)
    (st,) = w.stats.streams()
    (v,) = w.stats.vhosts()
    assert (st.clients, st.active, st.publisher_cid, st.url, st.app, st.name) == (
        3,
        True,
        "pub00001",
        "/live/livestream",
        "live",
        "livestream",
    )
    assert st.vhost is v and (v.name, v.clients, v.streams) == ("__defaultVhost__", 3, 1)
    assert st.id.startswith("vid-") and len(st.id) == 11 and v.id.startswith("vid-") and v.id != st.id
    assert w.stats.totals() == Totals(0, 0, streams=1, clients=3, clients_total=3, errors=0)
    assert w.stats.stream(st.id) is st and w.stats.vhost(v.id) is v
    assert w.stats.stream_by_url("/live/livestream") is st and w.stats.vhost_by_name("__defaultVhost__") is v
    assert w.stats.client("pub00001").stream is st  # type: ignore[union-attr]


def test_players_waiting_before_publish_keep_an_inactive_stream(w: World) -> None:
    p = w.client("play0001")
    w.stats.on_client(p)
    (st,) = w.stats.streams()
    assert (st.clients, st.active, st.publisher_cid) == (1, False, "")
    assert st.vhost.streams == 0
    assert st.video_info() is None and st.audio_info() is None


def test_stream_lives_while_it_has_clients_or_a_publisher_vhost_forever(w: World) -> None:
    pub = w.client("pub00001", "fmle-publish")
    src = w.publish(pub)
    player = w.client("play0001")
    w.stats.on_client(player)
    (st,) = w.stats.streams()
    # The publisher leaves: stream inactive but kept for the waiting player.
    src.unpublish(pub.conn)
    w.stats.on_stream_close(pub, src)
    w.stats.on_disconnect(pub, False)
    assert w.stats.streams() == [st] and (st.active, st.clients, st.vhost.streams) == (False, 1, 0)
    # The last player leaves: stream gone, vhost entry stays (SRS never removes vhosts).
    w.stats.on_disconnect(player, True)
    assert w.stats.streams() == [] and w.stats.stream(st.id) is None
    (v,) = w.stats.vhosts()
    assert (v.clients, v.streams) == (0, 0)
    assert w.stats.totals() == Totals(0, 0, streams=0, clients=0, clients_total=2, errors=1)


def test_disconnect_of_unknown_client_is_ignored(w: World) -> None:
    w.stats.on_disconnect(w.client("ghost001"), True)
    assert w.stats.totals().errors == 0  # SRS: unregistered clients count nothing


def test_republish_on_the_same_connection_counts_once(w: World) -> None:
    pub = w.client("pub00001", "fmle-publish")
    src = w.publish(pub)
    w.stats.on_stream_close(pub, src)
    again = Client(pub.conn, pub.request, "flash-publish")
    w.stats.on_client(again)
    w.stats.on_stream_publish(again, src)
    (st,) = w.stats.streams()
    (cs,) = w.stats.clients()
    assert (st.clients, st.vhost.clients, st.vhost.streams, st.active) == (1, 1, 1, True)
    assert cs.client is again and cs.client.kind == "flash-publish"
    assert cs.created == pub.created  # alive counts from the first registration
    assert w.stats.totals().clients_total == 2


def test_re_registration_on_another_stream_moves_the_client(w: World) -> None:
    p = w.client("play0001", stream="a")
    w.stats.on_client(p)
    (a,) = w.stats.streams()
    moved = Client(p.conn, Request("__defaultVhost__", "live", "b"), "fmle-publish")
    w.stats.on_client(moved)
    (b,) = w.stats.streams()
    assert b is not a and b.url == "/live/b" and b.clients == 1 and w.stats.stream(a.id) is None
    assert w.stats.vhosts()[0].clients == 1


def test_duplicated_publish_and_close_events_are_ignored(w: World) -> None:
    pub = w.client("pub00001", "fmle-publish")
    src = w.publish(pub)
    w.stats.on_stream_publish(pub, src)
    (st,) = w.stats.streams()
    assert st.vhost.streams == 1
    w.stats.on_stream_close(pub, src)
    w.stats.on_stream_close(pub, src)
    assert st.vhost.streams == 0


def test_vhosts_are_separate(w: World) -> None:
    w.stats.on_client(w.client("a0000001", vhost="__defaultVhost__"))
    w.stats.on_client(w.client("b0000001", vhost="v2.test"))
    w.stats.on_client(w.client("b0000002", vhost="v2.test"))
    by_name = {v.name: v for v in w.stats.vhosts()}
    assert {n: v.clients for n, v in by_name.items()} == {"__defaultVhost__": 1, "v2.test": 2}
    urls = sorted(s.url for s in w.stats.streams())
    assert urls == ["/live/livestream", "v2.test/live/livestream"]


def test_bytes_are_sampled_into_client_stream_vhost_and_server(w: World) -> None:
    pub = w.client("pub00001", "fmle-publish")
    w.publish(pub)
    p1, p2 = w.client("play0001"), w.client("play0002")
    for p in (p1, p2):
        w.stats.on_client(p)
    conn(pub).recv_bytes, conn(pub).send_bytes = 5000, 300
    conn(p1).send_bytes, conn(p2).send_bytes = 4000, 1000
    conn(p1).recv_bytes = 50
    w.tick()
    st = w.stats.streams()[0]
    assert (w.stats.client("pub00001").recv_bytes, w.stats.client("play0001").send_bytes) == (5000, 4000)  # type: ignore[union-attr]
    assert (st.recv_bytes, st.send_bytes) == (5050, 5300)
    assert (st.vhost.recv_bytes, st.vhost.send_bytes) == (5050, 5300)
    t = w.stats.totals()
    assert (t.recv_bytes, t.send_bytes) == (5050, 5300)
    # The last bytes of a client that leaves between samples are not lost.
    conn(p2).send_bytes += 700
    w.stats.on_disconnect(p2, False)
    assert (st.send_bytes, w.stats.totals().send_bytes) == (6000, 6000)


def test_kbps_slides_over_30_samples(w: World) -> None:
    pub = w.client("pub00001", "fmle-publish")
    w.publish(pub)
    st = w.stats.streams()[0]
    c = w.stats.client("pub00001")
    assert c is not None
    w.tick()
    assert c.kbps_recv_30s == 0  # one sample: no interval yet
    for _ in range(5):
        conn(pub).recv_bytes += 125_000  # 1 Mbit per second
        w.tick()
    assert (c.kbps_recv_30s, st.kbps_recv_30s, st.vhost.kbps_recv_30s) == (1000, 1000, 1000)
    assert c.kbps_send_30s == 0
    for _ in range(WINDOW_SAMPLES):
        conn(pub).recv_bytes += 62_500  # half the rate for a whole window
        w.tick()
    assert c.kbps_recv_30s == 500
    w.tick(WINDOW_SAMPLES)  # silence for a whole window
    assert c.kbps_recv_30s == 0 and st.kbps_recv_30s == 0
    assert c.recv_bytes == 5 * 125_000 + WINDOW_SAMPLES * 62_500  # cumulative bytes are kept


def test_kbps_of_a_late_client_starts_with_its_own_samples(w: World) -> None:
    w.tick(10)
    p = w.client("play0001")
    w.stats.on_client(p)
    for _ in range(3):
        conn(p).send_bytes += 10_000
        w.tick(dt=2.0)
    cs = w.stats.client("play0001")
    assert cs is not None and cs.kbps_send_30s == 40  # 20 000 bytes over 4 s, first sample excluded


def test_alive_counts_from_registration(w: World) -> None:
    p = w.client("play0001")
    w.stats.on_client(p)
    w.now += 12.5
    cs = w.stats.client("play0001")
    assert cs is not None and cs.alive == pytest.approx(12.5)


def test_lists_are_ordered_by_id_and_paged(w: World) -> None:
    cids = [f"{i:02d}x{(i * 7919) % 97:05d}" for i in range(25)]
    for cid in reversed(cids):
        w.stats.on_client(w.client(cid, stream=f"s{cid}"))
    ids = [c.id for c in w.stats.clients()]
    assert ids == sorted(cids)
    assert [c.id for c in w.stats.clients_page(0, 10)] == ids[:10]
    assert [c.id for c in w.stats.clients_page(20, 10)] == ids[20:]
    assert w.stats.clients_page(99, 10) == []
    sids = [s.id for s in w.stats.streams()]
    assert sids == sorted(sids) and len(sids) == 25
    assert [s.id for s in w.stats.streams_page(5, 3)] == sids[5:8]


def _avc_sh() -> bytes:
    return video_body(VideoCodec.AVC, 1, 0, 0, h264.build_avc_config(AVATAR_SPS, AVATAR_PPS))


def _feed(
    src: Source, kind: int, payload: bytes, *, sh: bool = False, key: bool = False, ts: int = 0
) -> None:
    src.on_message(
        MediaMessage(kind, ts, payload, sequence_header=sh, keyframe=key, codec=7 if kind == VIDEO else 10)
    )


def test_frames_and_codec_info_follow_the_publisher(w: World) -> None:
    pub = w.client("pub00001", "fmle-publish")
    src = w.publish(pub)
    st = w.stats.streams()[0]
    assert st.video_info() is None and st.audio_info() is None  # null until the sequence headers
    _feed(src, VIDEO, _avc_sh(), sh=True, key=True)
    _feed(src, AUDIO, audio_body(AudioCodec.AAC, 0, aac.build_asc(2, 44100, 2)), sh=True)
    for i in range(5):
        _feed(src, VIDEO, b"\x27\x01\x00\x00\x00\x00", ts=i * 40)
    assert st.video_info() == {
        "codec": "H264",
        "profile": "High",
        "level": "3.2",
        "width": 768,
        "height": 320,
    }
    assert st.audio_info() == {"codec": "AAC", "sample_rate": 44100, "channel": 2, "profile": "LC"}
    assert st.video_info() is st.video_info()  # cached per sequence header
    assert st.frames == 5
    # Unpublish: codec info forgotten (SRS close()), frames kept; republish adds up.
    player = w.client("play0001")
    w.stats.on_client(player)
    src.unpublish(pub.conn)
    w.stats.on_stream_close(pub, src)
    assert st.video_info() is None and st.audio_info() is None and st.frames == 5
    src = w.registry.fetch_or_create("/live/livestream", "__defaultVhost__")  # as the adapter does
    src.publish(pub.conn)
    w.stats.on_stream_publish(pub, src)
    _feed(src, VIDEO, b"\x27\x01\x00\x00\x00\x00", ts=400)
    assert st.frames == 6


def test_frames_survive_a_new_source_object(w: World) -> None:
    p = w.client("play0001")
    w.stats.on_client(p)
    st = w.stats.streams()[0]
    src = w.registry.fetch_or_create("/live/livestream", "__defaultVhost__")
    _feed(src, VIDEO, b"\x27\x01\x00\x00\x00\x00")
    _feed(src, VIDEO, b"\x27\x01\x00\x00\x00\x00")
    w.tick()
    w.registry._reap(src)  # the source went idle and was forgotten
    assert st.source is None and st.frames == 2
    src2 = w.registry.fetch_or_create("/live/livestream", "__defaultVhost__")
    _feed(src2, VIDEO, b"\x27\x01\x00\x00\x00\x00")
    assert st.frames == 3


def test_mp3_audio_info_comes_from_a_frame(w: World) -> None:
    pub = w.client("pub00001", "fmle-publish")
    src = w.publish(pub)
    st = w.stats.streams()[0]
    # no player: the ring is trimmed, the source still keeps its newest audio frame
    frame: dict[str, Any] = {"codec": "MP3", "sample_rate": 44100, "channel": 2, "profile": "Other"}
    _feed(src, AUDIO, audio_body(AudioCodec.MP3, 1, b"\xff\xfb\x90\x64" + bytes(100)))
    assert st.audio_info() == frame
    assert st.audio_info() is st.audio_info()  # learnt once per publish
