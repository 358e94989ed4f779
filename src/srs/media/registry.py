"""All live sources of the server, by stream URL (SRS ``SrsLiveSourceManager``).

A source exists while it has a publisher or at least one consumer; the moment it has neither it
is forgotten, so memory stays flat as streams come and go. Because asyncio runs one callback at a
time and :meth:`SourceRegistry.fetch_or_create` plus attaching the publisher/consumer happen in one
synchronous step, a source can never be reaped between being found and being used: there is no
window for the publish/unpublish/play races the old C++ code had to guard against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from srs.media.source import Pace, Source, SourceSettings


class SourceRegistry:
    def __init__(
        self,
        schedule: Callable[[Callable[[], None]], object],
        settings_for: Callable[[str], SourceSettings],
        pace: Pace | None = None,
    ) -> None:
        self._schedule = schedule
        self._pace = pace
        self._settings_for = settings_for  # vhost name -> settings
        self._sources: dict[str, Source] = {}
        self._vhost_of: dict[str, str] = {}
        self.created = 0
        self.reaped = 0

    def __len__(self) -> int:
        return len(self._sources)

    def __iter__(self) -> Iterator[Source]:
        return iter(list(self._sources.values()))

    def find(self, url: str) -> Source | None:
        return self._sources.get(url)

    def fetch_or_create(self, url: str, vhost: str) -> Source:
        src = self._sources.get(url)
        if src is None:
            src = Source(url, self._settings_for(vhost), self._schedule, self._reap, self._pace)
            self._sources[url] = src
            self._vhost_of[url] = vhost
            self.created += 1
        return src

    def vhost_of(self, src: Source) -> str:
        return self._vhost_of.get(src.url, "")

    def _reap(self, src: Source) -> None:
        if self._sources.get(src.url) is src and src.idle:
            del self._sources[src.url]
            self._vhost_of.pop(src.url, None)
            self.reaped += 1

    def update_vhost(self, vhost: str) -> None:
        """Reload: give the sources of ``vhost`` its new settings."""
        settings = self._settings_for(vhost)
        for url, src in list(self._sources.items()):
            if self._vhost_of.get(url) == vhost:
                src.update_settings(settings)

    def sources_of(self, vhost: str) -> list[Source]:
        return [s for u, s in self._sources.items() if self._vhost_of.get(u) == vhost]

    def tick(self, now_ms: int) -> None:
        for src in list(self._sources.values()):
            src.tick(now_ms)
