"""Scrapy's dupefilter, kept in memory even when the run has a JOBDIR.

Scrapy's own filter writes every fingerprint to `JOBDIR/requests.seen` when it is
scheduled. After a SIGKILL, the requests that were in flight are in that file but in no
queue, so a resumed run would never fetch them. Filtering per run instead is safe here:
the database knows what is stored, and a resumed run re-walks the listings (the restored
queue carries on with the rest) and fetches whatever is still missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from scrapy.dupefilters import RFPDupeFilter

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class RunScopedDupeFilter(RFPDupeFilter):
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(
            None,
            crawler.settings.getbool("DUPEFILTER_DEBUG"),
            fingerprinter=crawler.request_fingerprinter,
        )
