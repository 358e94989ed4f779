"""Timestamp jitter correction (SRS ``SrsRtmpJitter``), applied once per source.

SRS corrects timestamps per consumer; we correct them once, on ingest, so that every player
receives the same bytes (the whole point of the shared fan-out). The algorithms are SRS's:

* ``full``: start at (about) zero and replace any jump of more than 250 ms (either way) by a
  10 ms step, so publisher restarts and broken encoders never make players stall. Not strictly
  monotonic: small negative deltas (A/V interleaving) are kept, as in SRS.
* ``zero``: only subtract the first timestamp, so the stream starts at zero.
* ``off``: timestamps pass through untouched (also what ``atc`` means).

The state lives with the Source, across publishers: when a stream is republished, players that
stayed connected see the timeline continue instead of jumping back to zero.
"""

from __future__ import annotations

from enum import Enum

from srs.media.message import AUDIO, VIDEO, MediaMessage

MAX_JITTER_MS = 250  # SRS CONST_MAX_JITTER_MS
MAX_JITTER_MS_NEG = -250  # SRS CONST_MAX_JITTER_MS_NEG
DEFAULT_FRAME_TIME_MS = 10  # SRS DEFAULT_FRAME_TIME_MS


class JitterAlgorithm(Enum):
    FULL = "full"
    ZERO = "zero"
    OFF = "off"

    @classmethod
    def parse(cls, value: str) -> JitterAlgorithm:
        try:
            return cls(value)
        except ValueError:
            return cls.FULL  # SRS compat: unknown values fall back to the default


class Jitter:
    """Corrects timestamps of one source timeline."""

    __slots__ = ("_last_correct", "_last_pkt", "_max_correct", "_step_next")

    def __init__(self) -> None:
        self._last_pkt = 0  # last original timestamp seen (SRS last_pkt_time)
        self._last_correct = -1  # last corrected timestamp (SRS last_pkt_correct_time)
        self._max_correct = -1  # largest corrected timestamp so far
        self._step_next = False

    def reset(self) -> None:
        self._last_pkt = 0
        self._last_correct = -1
        self._max_correct = -1
        self._step_next = False

    def correct(self, msg: MediaMessage, algorithm: JitterAlgorithm) -> MediaMessage:
        if algorithm is JitterAlgorithm.OFF:
            return msg
        if algorithm is JitterAlgorithm.ZERO:
            if self._last_correct == -1:
                self._last_correct = msg.timestamp
            return msg.with_timestamp(msg.timestamp - self._last_correct)
        # full
        if msg.kind != AUDIO and msg.kind != VIDEO:
            # SRS compat: metadata is stamped 0 by the full algorithm.
            return msg.with_timestamp(0)
        time = msg.timestamp
        delta = time - self._last_pkt
        if delta < MAX_JITTER_MS_NEG or delta > MAX_JITTER_MS or self._step_next:
            delta = DEFAULT_FRAME_TIME_MS
            self._step_next = False
        self._last_correct = max(0, self._last_correct + delta)
        if self._last_correct > self._max_correct:
            self._max_correct = self._last_correct
        self._last_pkt = time
        return msg.with_timestamp(self._last_correct)

    def on_republish(self, algorithm: JitterAlgorithm) -> None:
        """A new publisher starts on this source.

        ``full`` needs nothing: the new publisher's first timestamp is a jump, replaced by a 10 ms
        step, so the timeline of players that stayed connected continues. ``zero`` restarts from the
        new publisher's first timestamp (SRS's per-consumer state would go negative instead).
        """
        if algorithm is JitterAlgorithm.ZERO:
            self.reset()
        elif algorithm is JitterAlgorithm.FULL and self._last_correct >= 0:
            # Whatever the new encoder starts at, its first packet is one default frame step after
            # the latest one players saw (not the last: encoders end with an end-of-sequence tag
            # stamped before their last audio frame), so no stream of the timeline goes back.
            self._last_correct = self._max_correct
            self._step_next = True

    @property
    def last_timestamp(self) -> int:
        return max(0, self._last_correct)
