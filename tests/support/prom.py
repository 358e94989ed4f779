"""A strict reader of Prometheus's text exposition format 0.0.4, for the exporter tests.

Strict on purpose: every sample must belong to the family announced by the ``# HELP``/``# TYPE``
lines before it (``_total`` suffix allowed for counters), names and label names must be valid, label
values must be properly quoted and escaped, values must parse. Anything else raises ValueError, so
a test fails on output Prometheus would reject or misread.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Family:
    name: str
    help: str = ""
    type: str = "untyped"
    samples: list[Sample] = field(default_factory=list)

    def value(self, **labels: str) -> float:
        """The one sample whose labels include ``labels``."""
        hits = [s for s in self.samples if all(s.labels.get(k) == v for k, v in labels.items())]
        if len(hits) != 1:
            raise KeyError(f"{self.name}{labels}: {len(hits)} samples")
        return hits[0].value


def _unescape_help(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "\\n":
            out.append("\n" if text[i + 1] == "n" else "\\")
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _labels(text: str, pos: int) -> tuple[dict[str, str], int]:
    """Parse ``{a="x",b="y"}`` starting at ``text[pos] == '{'``; returns labels and the end index."""
    assert text[pos] == "{"
    pos += 1
    labels: dict[str, str] = {}
    while True:
        if text[pos] == "}":
            return labels, pos + 1
        m = LABEL.match(text, pos)
        if m is None:
            raise ValueError(f"bad label name at {pos}: {text!r}")
        name = m.group()
        pos = m.end()
        if text[pos : pos + 2] != '="':
            raise ValueError(f'expected =" after {name}: {text!r}')
        pos += 2
        value: list[str] = []
        while True:
            c = text[pos]
            if c == "\\":
                nxt = text[pos + 1]
                if nxt not in '\\"n':
                    raise ValueError(f"bad escape \\{nxt}: {text!r}")
                value.append("\n" if nxt == "n" else nxt)
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                raise ValueError(f"raw newline in a label value: {text!r}")
            else:
                value.append(c)
                pos += 1
        if name in labels:
            raise ValueError(f"label {name} twice: {text!r}")
        labels[name] = "".join(value)
        if text[pos] == ",":
            pos += 1
        elif text[pos] != "}":
            raise ValueError(f"expected , or }} at {pos}: {text!r}")


def _value(text: str) -> float:
    special = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}
    if text in special:
        return special[text]
    return float(text)


def parse(text: str) -> dict[str, Family]:
    """Families by name, in order. Raises ValueError on anything malformed."""
    if text and not text.endswith("\n"):
        raise ValueError("the text must end with a newline")
    families: dict[str, Family] = {}
    current: Family | None = None
    for line in text.split("\n")[:-1]:
        if not line:
            continue
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            if not NAME.fullmatch(name) or name in families:
                raise ValueError(f"bad or repeated family {name!r}")
            current = families[name] = Family(name, _unescape_help(help_text))
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            if current is None or current.name != name or current.samples or kind not in TYPES:
                raise ValueError(f"TYPE line out of place: {line!r}")
            current.type = kind
            continue
        if line.startswith("#"):
            continue
        m = NAME.match(line)
        if m is None:
            raise ValueError(f"bad sample line {line!r}")
        name, pos = m.group(), m.end()
        labels: dict[str, str] = {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = _labels(line, pos)
        if line[pos : pos + 1] != " ":
            raise ValueError(f"expected a space before the value: {line!r}")
        parts = line[pos + 1 :].split(" ")
        if len(parts) not in (1, 2):
            raise ValueError(f"bad value/timestamp: {line!r}")
        allowed = {current.name} if current else set()
        if current is not None and current.type == "counter":
            allowed.add(current.name + "_total")
        if name not in allowed:
            raise ValueError(f"sample {name} outside its family ({current.name if current else None})")
        assert current is not None
        current.samples.append(Sample(name, labels, _value(parts[0])))
    return families
