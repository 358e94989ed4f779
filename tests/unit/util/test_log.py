"""Log lines cannot be forged, and floods become one line per second with a count."""

from __future__ import annotations

import logging

from srs.util.log import SrsFormatter, StormFilter, escape


def record(msg: str, *args: object, level: int = logging.WARNING, created: float = 0.0) -> logging.LogRecord:
    r = logging.LogRecord("srs", level, __file__, 1, msg, args, None)
    r.created = created
    return r


def test_escape_keeps_one_record_on_one_line() -> None:
    assert escape("a\r\n[Error] b\x00\x1b[31m\x7f\x85é\t") == "a\\r\\n[Error] b\\x00\\x1b[31m\\x7f\\x85é\\t"
    line = SrsFormatter().format(record("play %s", "x\r\n[2026-01-01][Error] forged\x00"))
    assert "\n" not in line and "\r" not in line and "\x00" not in line
    assert line.endswith("play x\\r\\n[2026-01-01][Error] forged\\x00")


def test_storm_filter_summarises_repeats() -> None:
    out: list[logging.LogRecord] = []
    f = StormFilter(out.append)
    passed = [f.filter(record("drop ip=%s", f"10.0.0.{i}", created=i / 100)) for i in range(50)]
    assert passed == [True] + [False] * 49  # the first of the second goes out
    assert f.filter(record("other %s", 1, created=0.5))  # another message has its own window
    assert f.filter(record("info %s", 1, level=logging.INFO, created=0.5))  # lower levels untouched
    assert out == []
    f.flush(0.9)
    assert out == []  # the window is not over
    f.flush(1.0)
    assert len(out) == 1
    assert out[0].getMessage() == "49 more like this in the last 1s, the last: drop ip=10.0.0.49"
    assert f.filter(out[0])  # a summary is never summarised
    # the next window starts fresh
    assert f.filter(record("drop ip=%s", "x", created=2.0))


def test_storm_summary_is_written_when_the_next_one_comes() -> None:
    out: list[logging.LogRecord] = []
    f = StormFilter(out.append)
    f.filter(record("drop %s", 1, created=0.0))
    f.filter(record("drop %s", 2, created=0.5))
    assert f.filter(record("drop %s", 3, created=1.5))
    assert [r.getMessage() for r in out] == ["1 more like this in the last 1s, the last: drop 2"]
