"""The DASH output: for each published stream of a vhost with ``dash { enabled on; }``, a
:class:`~srs.remux.dash.DashSegmenter` fed by the Source (``srs.output.files`` runs it). Write
errors are logged once per stream and the stream goes on (SRS has no ``dash_on_error``).
"""

from __future__ import annotations

from srs.config import VhostConfig
from srs.config.schema_vhost import DashConfig
from srs.output.files import FileOutputs, Segmenter
from srs.protocol.request import Request
from srs.remux.dash import DashSegmenter


class DashOutputs(FileOutputs):
    name = "DASH"

    def config(self, vhost: VhostConfig) -> DashConfig | None:
        return vhost.dash if vhost.dash.enabled else None

    def make(self, cfg: DashConfig, vhost: VhostConfig, req: Request) -> DashSegmenter:
        return DashSegmenter(cfg, vhost=vhost.name, app=req.app, stream=req.stream)

    def describe(self, seg: Segmenter) -> str:
        return seg.mpd_path if isinstance(seg, DashSegmenter) else ""
