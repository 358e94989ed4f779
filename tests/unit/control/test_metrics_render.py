"""The exporter's text: SRS's families byte for byte, our per-stream series, escaping, bounds."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srs.config import ExporterConfig
from srs.control.metrics import CONTENT_TYPE, ProcessSample, busiest, escape_label, format_value, render
from srs.server.context import ServerIdentity
from support import prom

IDENT = ServerIdentity(server_id="vid-abc1234", service_id="svc12345", pid=4242)
UNAME = (
    ("sysname", "Linux"),
    ("nodename", "box"),
    ("release", "6.1"),
    ("version", "#1 SMP"),
    ("machine", "x86_64"),
)
PROC = ProcessSample(cpu_percent=12.5, memory_kbyte=65536)


@dataclass
class FakeVhost:
    name: str


@dataclass
class FakeSource:
    dropped_msgs: int = 0


@dataclass
class FakeStream:
    name: str
    app: str = "live"
    vhost: FakeVhost = field(default_factory=lambda: FakeVhost("__defaultVhost__"))
    clients: int = 0
    send_bytes: int = 0
    recv_bytes: int = 0
    kbps_recv_30s: int = 0
    kbps_send_30s: int = 0
    active: bool = False
    source: FakeSource | None = None


@dataclass
class FakeTotals:
    send_bytes: int = 0
    recv_bytes: int = 0
    streams: int = 0
    clients: int = 0
    clients_total: int = 0
    errors: int = 0


@dataclass
class FakeStats:
    total: FakeTotals = field(default_factory=FakeTotals)
    items: list[FakeStream] = field(default_factory=list)

    def totals(self) -> FakeTotals:
        return self.total

    def streams(self) -> list[FakeStream]:
        return self.items


def test_srs_families_exactly() -> None:
    stats = FakeStats(FakeTotals(1000, 2000, 3, 7, 11, 2))
    text = render(ExporterConfig(enabled=True), IDENT, stats, PROC, UNAME)
    # The SRS part is fixed text (srs_app_http_api.cpp SrsGoApiMetrics) but for build_date.
    lines = text.splitlines()
    build = next(ln for ln in lines if ln.startswith("srs_build_info{"))
    date = build.split('build_date="', 1)[1].split('"', 1)[0]
    assert len(date) == 19 and date[4] == "-" and date[13] == ":"
    expected = f"""\
# HELP srs_node_uname_info Labeled system information as provided by the uname system call.
# TYPE srs_node_uname_info gauge
srs_node_uname_info{{sysname="Linux",nodename="box",release="6.1",version="#1 SMP",machine="x86_64"}} 1
# HELP srs_build_info A metric with a constant '1' value labeled by build_date, version from which SRS was built.
# TYPE srs_build_info gauge
srs_build_info{{server="vid-abc1234",service="svc12345",pid="4242",build_date="{date}",major="7",version="7.0.18",code="Hang"}} 1
# HELP srs_cpu_percent SRS cpu used percent.
# TYPE srs_cpu_percent gauge
srs_cpu_percent 12.5
# HELP srs_memory SRS memory used.
# TYPE srs_memory gauge
srs_memory 65536
# HELP srs_send_bytes_total SRS total sent bytes.
# TYPE srs_send_bytes_total counter
srs_send_bytes_total 1000
# HELP srs_receive_bytes_total SRS total received bytes.
# TYPE srs_receive_bytes_total counter
srs_receive_bytes_total 2000
# HELP srs_streams The number of SRS concurrent streams.
# TYPE srs_streams gauge
srs_streams 3
# HELP srs_clients The number of SRS concurrent clients.
# TYPE srs_clients gauge
srs_clients 7
# HELP srs_clients_total The total counts of SRS clients.
# TYPE srs_clients_total counter
srs_clients_total 11
# HELP srs_clients_errs_total The total errors of SRS clients.
# TYPE srs_clients_errs_total counter
srs_clients_errs_total 2
"""
    assert text == expected
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


def test_label_and_tag_extend_build_info() -> None:
    text = render(ExporterConfig(enabled=True, label="cn-east", tag='a"b'), IDENT, FakeStats(), PROC, UNAME)
    fam = prom.parse(text)["srs_build_info"]
    (s,) = fam.samples
    assert list(s.labels) == [
        "server",
        "service",
        "pid",
        "build_date",
        "major",
        "version",
        "code",
        "label",
        "tag",
    ]
    assert (s.labels["label"], s.labels["tag"]) == ("cn-east", 'a"b')


def test_no_stream_series_unless_enabled() -> None:
    stats = FakeStats(items=[FakeStream("s", clients=3, active=True)])
    off = prom.parse(render(ExporterConfig(enabled=True), IDENT, stats, PROC, UNAME))
    assert not [n for n in off if n.startswith("srs_stream_") or n.startswith("srs_exporter_")]


def test_stream_series_values_and_bound() -> None:
    streams = [
        FakeStream("quiet", clients=1, active=True, recv_bytes=10, source=FakeSource(0)),
        FakeStream(
            "busy",
            clients=5,
            active=True,
            send_bytes=9000,
            recv_bytes=3000,
            kbps_recv_30s=2500,
            kbps_send_30s=10000,
            source=FakeSource(42),
        ),
        FakeStream("waiting", app="app/sub", vhost=FakeVhost("v.example"), clients=2, active=False),
    ]
    cfg = ExporterConfig(enabled=True, stream_metrics=True, max_streams=2)
    fams = prom.parse(render(cfg, IDENT, FakeStats(items=streams), PROC, UNAME))
    players = fams["srs_stream_players"]
    assert players.type == "gauge"
    # The two busiest by players: busy (4 players + publisher) and waiting (2 players, no publisher).
    assert {s.labels["stream"] for s in players.samples} == {"busy", "waiting"}
    assert players.value(stream="busy") == 4
    assert players.value(stream="waiting", vhost="v.example", app="app/sub") == 2
    assert fams["srs_stream_publishing"].value(stream="busy") == 1
    assert fams["srs_stream_publishing"].value(stream="waiting") == 0
    assert fams["srs_stream_receive_bytes_total"].value(stream="busy") == 3000
    assert fams["srs_stream_send_bytes_total"].value(stream="busy") == 9000
    assert fams["srs_stream_receive_kbps"].value(stream="busy") == 2500
    assert fams["srs_stream_send_kbps"].value(stream="busy") == 10000
    assert fams["srs_stream_dropped_messages_total"].value(stream="busy") == 42
    assert fams["srs_stream_dropped_messages_total"].value(stream="waiting") == 0
    assert fams["srs_stream_dropped_messages_total"].type == "counter"
    assert fams["srs_exporter_streams_omitted"].value() == 1


def test_busiest_is_stable() -> None:
    a = [FakeStream(n, clients=1, active=True, recv_bytes=5) for n in "dcba"]
    chosen, omitted = busiest(a, 3)
    assert [s.name for s in chosen] == ["a", "b", "c"] and omitted == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (7, "7"),
        (True, "1"),
        (12.5, "12.5"),
        (3.0, "3"),
        (float("nan"), "NaN"),
        (float("inf"), "+Inf"),
    ],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_label_value_round_trips(value: str) -> None:
    text = f'm{{a="{escape_label(value)}"}} 1\n'
    (sample,) = prom.parse("# HELP m h\n# TYPE m gauge\n" + text)["m"].samples
    assert sample.labels == {"a": value}
