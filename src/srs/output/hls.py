"""The HLS output: for each published stream of a vhost with ``hls { enabled on; }``, a
:class:`~srs.remux.hls.HlsSegmenter` fed by the Source (``srs.output.files`` runs it). A write error
is logged (``hls_on_error continue``, SRS's default) and the stream goes on; ``disconnect`` closes
the publisher.
"""

from __future__ import annotations

from srs.config import VhostConfig
from srs.config.schema_vhost import HlsConfig
from srs.output.files import FileOutputs, FileSink, OnSegment, Segmenter, perform
from srs.protocol.request import Request
from srs.remux.hls import HlsSegmenter

__all__ = ["FileSink", "HlsOutputs", "OnSegment", "perform"]


class HlsOutputs(FileOutputs):
    name = "HLS"
    on_error_directive = "hls_on_error"

    def config(self, vhost: VhostConfig) -> HlsConfig | None:
        return vhost.hls if vhost.hls.enabled else None

    def make(self, cfg: HlsConfig, vhost: VhostConfig, req: Request) -> HlsSegmenter:
        return HlsSegmenter(cfg, vhost=vhost.name, app=req.app, stream=req.stream)

    def describe(self, seg: Segmenter) -> str:
        return seg.m3u8_path if isinstance(seg, HlsSegmenter) else ""
