"""The Prometheus exporter: ``/metrics`` (SRS ``SrsGoApiMetrics``) plus per-stream series (ours).

SRS's families, names, HELP/TYPE lines and labels are kept exactly (``srs_app_http_api.cpp``), so a
dashboard made for SRS works unchanged. The text is Prometheus's exposition format 0.0.4
(https://prometheus.io/docs/instrumenting/exposition_formats/): ``# HELP``/``# TYPE`` then samples,
label values escaped (backslash, double quote, newline).

What SRS lacks and users ask for (``exporter.stream_metrics on``, ours): one labelled series per
stream (``vhost``, ``app``, ``stream``) for bytes in/out, players, messages dropped for slow players
and the 30 s bitrates; at most ``exporter.max_streams`` streams, the busiest by players, so a
server with many streams cannot blow up the scraper (``srs_exporter_streams_omitted`` says how
many were left out).

The exporter reads the *current* config per scrape: a reload that turns it on or off, or changes
the label/tag, applies to the next scrape.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Protocol

import psutil
from aiohttp import web

from srs import CODE_NAME, VERSION, VERSION_MAJOR
from srs.control.api import json_response
from srs.util.errors import ErrorCode

if TYPE_CHECKING:
    from srs.config import ExporterConfig
    from srs.server.context import ServerContext, ServerIdentity

__all__ = [
    "CONTENT_TYPE",
    "ProcessSample",
    "StatsSource",
    "add_routes",
    "escape_label",
    "format_value",
    "render",
]

#: Prometheus text format 0.0.4 (SRS sends ``text/plain; charset=utf-8``; both are accepted).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = Sequence[tuple[str, str]]


# ---------------------------------------------------------------- what the exporter reads


class VhostLike(Protocol):
    @property
    def name(self) -> str: ...


class SourceLike(Protocol):
    @property
    def dropped_msgs(self) -> int: ...


class StreamLike(Protocol):
    """What a stream statistic offers (``srs.control.stats.StreamStat``)."""

    @property
    def name(self) -> str: ...

    @property
    def app(self) -> str: ...

    @property
    def vhost(self) -> VhostLike: ...

    @property
    def clients(self) -> int: ...

    @property
    def send_bytes(self) -> int: ...

    @property
    def recv_bytes(self) -> int: ...

    @property
    def kbps_recv_30s(self) -> int: ...

    @property
    def kbps_send_30s(self) -> int: ...

    @property
    def active(self) -> bool: ...

    @property
    def source(self) -> SourceLike | None: ...


class TotalsLike(Protocol):
    @property
    def send_bytes(self) -> int: ...

    @property
    def recv_bytes(self) -> int: ...

    @property
    def streams(self) -> int: ...

    @property
    def clients(self) -> int: ...

    @property
    def clients_total(self) -> int: ...

    @property
    def errors(self) -> int: ...


class StatsSource(Protocol):
    """The statistics the exporter reads (``srs.control.stats.Statistics``)."""

    def totals(self) -> TotalsLike: ...

    def streams(self) -> Sequence[StreamLike]: ...


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """This process's CPU (percent of one core) and resident memory (KiB)."""

    cpu_percent: float
    memory_kbyte: int


class ProcessSampler:
    """CPU since the previous sample, as SRS's ``srs_cpu_percent`` (its own psutil handle, so the
    API's ``summaries`` sampling does not reset our interval)."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self._proc.cpu_percent(None)  # the first call only starts the interval

    def sample(self) -> ProcessSample:
        with self._proc.oneshot():
            cpu = self._proc.cpu_percent(None)
            rss = self._proc.memory_info().rss
        return ProcessSample(cpu_percent=cpu, memory_kbyte=rss // 1024)


# ---------------------------------------------------------------- text format


def escape_label(value: str) -> str:
    """A label value as the exposition format wants it: ``\\``, ``"`` and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(v: float) -> str:
    """Integers without a fraction (SRS prints them so), floats in shortest form, NaN/Inf spelled."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _sample(name: str, labels: Labels, value: float) -> str:
    if labels:
        inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels)
        return f"{name}{{{inner}}} {format_value(value)}\n"
    return f"{name} {format_value(value)}\n"


def _family(
    out: list[str], name: str, help_text: str, kind: str, samples: Iterable[tuple[Labels, float]]
) -> None:
    out.append(f"# HELP {name} {_escape_help(help_text)}\n# TYPE {name} {kind}\n")
    out.extend(_sample(name, labels, value) for labels, value in samples)


@cache
def build_date() -> str:
    """SRS's ``SRS_BUILD_DATE`` is the compile time; for us, when the package files were written."""
    try:
        ts = os.path.getmtime(os.path.join(os.path.dirname(__file__), os.pardir, "__init__.py"))
    except OSError:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _uname() -> tuple[tuple[str, str], ...]:
    u = os.uname()
    return (
        ("sysname", u.sysname),
        ("nodename", u.nodename),
        ("release", u.release),
        ("version", u.version),
        ("machine", u.machine),
    )


def render(
    exporter: ExporterConfig,
    identity: ServerIdentity,
    stats: StatsSource,
    proc: ProcessSample,
    uname: Labels | None = None,
) -> str:
    """The whole ``/metrics`` text: SRS's families in SRS's order, then ours when enabled."""
    out: list[str] = []
    _family(
        out,
        "srs_node_uname_info",
        "Labeled system information as provided by the uname system call.",
        "gauge",
        [(uname if uname is not None else _uname(), 1)],
    )
    build: list[tuple[str, str]] = [
        ("server", identity.server_id),
        ("service", identity.service_id),
        ("pid", str(identity.pid)),
        ("build_date", build_date()),
        ("major", str(VERSION_MAJOR)),
        ("version", VERSION),
        ("code", CODE_NAME),
    ]
    if exporter.label:
        build.append(("label", exporter.label))
    if exporter.tag:
        build.append(("tag", exporter.tag))
    _family(
        out,
        "srs_build_info",
        "A metric with a constant '1' value labeled by build_date, version from which SRS was built.",
        "gauge",
        [(build, 1)],
    )
    _family(out, "srs_cpu_percent", "SRS cpu used percent.", "gauge", [((), proc.cpu_percent)])
    # SRS compat: the value is the RSS in KiB (SRS: pages * 4), though SRS's comment says MBytes.
    _family(out, "srs_memory", "SRS memory used.", "gauge", [((), proc.memory_kbyte)])
    t = stats.totals()
    for name, help_text, kind, value in (
        ("srs_send_bytes_total", "SRS total sent bytes.", "counter", t.send_bytes),
        ("srs_receive_bytes_total", "SRS total received bytes.", "counter", t.recv_bytes),
        ("srs_streams", "The number of SRS concurrent streams.", "gauge", t.streams),
        ("srs_clients", "The number of SRS concurrent clients.", "gauge", t.clients),
        ("srs_clients_total", "The total counts of SRS clients.", "counter", t.clients_total),
        ("srs_clients_errs_total", "The total errors of SRS clients.", "counter", t.errors),
    ):
        _family(out, name, help_text, kind, [((), value)])
    if exporter.stream_metrics:
        _stream_families(out, stats.streams(), exporter.max_streams)
    return "".join(out)


# ---------------------------------------------------------------- per-stream series (ours)


def _players(st: StreamLike) -> int:
    # A stream's client count includes its publisher (SRS's nb_clients).
    return max(0, st.clients - (1 if st.active else 0))


def busiest(streams: Iterable[StreamLike], limit: int) -> tuple[list[StreamLike], int]:
    """The ``limit`` streams with the most players (then bytes received, then name: a stable
    order between scrapes), and how many were left out."""
    ranked = sorted(
        streams,
        key=lambda s: (-_players(s), -s.recv_bytes, s.vhost.name, s.app, s.name),
    )
    return ranked[:limit], max(0, len(ranked) - limit)


_STREAM_FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("srs_stream_players", "The number of players of the stream (ours, not in SRS).", "gauge"),
    ("srs_stream_publishing", "1 while the stream has a publisher (ours, not in SRS).", "gauge"),
    ("srs_stream_receive_bytes_total", "Bytes received for the stream (ours, not in SRS).", "counter"),
    ("srs_stream_send_bytes_total", "Bytes sent to players of the stream (ours, not in SRS).", "counter"),
    (
        "srs_stream_receive_kbps",
        "Publisher bitrate in kbps, 30 s average (ours, not in SRS).",
        "gauge",
    ),
    ("srs_stream_send_kbps", "Bitrate sent to players in kbps, 30 s average (ours, not in SRS).", "gauge"),
    (
        "srs_stream_dropped_messages_total",
        "Messages dropped for slow players, queue_length overflow (ours, not in SRS).",
        "counter",
    ),
)


def _stream_values(st: StreamLike) -> tuple[float, ...]:
    src = st.source
    return (
        _players(st),
        1 if st.active else 0,
        st.recv_bytes,
        st.send_bytes,
        st.kbps_recv_30s,
        st.kbps_send_30s,
        src.dropped_msgs if src is not None else 0,
    )


def _stream_families(out: list[str], streams: Sequence[StreamLike], limit: int) -> None:
    chosen, omitted = busiest(streams, limit)
    rows = [
        ((("vhost", st.vhost.name), ("app", st.app), ("stream", st.name)), _stream_values(st))
        for st in chosen
    ]
    for i, (name, help_text, kind) in enumerate(_STREAM_FAMILIES):
        _family(out, name, help_text, kind, [(labels, values[i]) for labels, values in rows])
    _family(
        out,
        "srs_exporter_streams_omitted",
        "Streams left out of the srs_stream_* series by exporter.max_streams (ours, not in SRS).",
        "gauge",
        [((), omitted)],
    )


# ---------------------------------------------------------------- HTTP


def add_routes(app: web.Application, ctx: ServerContext, stats: StatsSource) -> None:
    """``/metrics`` on an API mux (the API port, the shared HTTP port and the exporter port)."""
    sampler = ProcessSampler()

    async def metrics(request: web.Request) -> web.StreamResponse:
        exporter = ctx.config.exporter
        if not exporter.enabled:
            return json_response({"code": int(ErrorCode.EXPORTER_DISABLED)})
        text = render(exporter, ctx.identity, stats, sampler.sample())
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_route("*", "/metrics", metrics)
