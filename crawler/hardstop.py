"""A crawl that a signal asked to stop does stop.

Scrapy's first SIGTERM/SIGINT closes the crawl gracefully and its second stops the
reactor, both from the reactor's thread: a reactor stuck in a wait never gets to either.
This wraps Scrapy's handlers: the first signal also starts a timer that ends the process
after ``DOWNLOAD_TIMEOUT`` + ``GRACE_SECONDS``, and a second signal ends it at once (exit
4, "interrupted"). The writer process dies with it (``storage/writer.py``); what it had
not committed was never acknowledged, so the next run fetches it again.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

from crawler.exitcodes import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from types import FrameType

logger = logging.getLogger(__name__)

GRACE_SECONDS = 5.0
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class HardStop:
    def __init__(self, download_timeout: float) -> None:
        self.deadline = download_timeout + GRACE_SECONDS
        self.signalled = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Put our handler in front of whatever Scrapy installed (call again whenever
        Scrapy installs its own)."""
        for number in SIGNALS:
            current = signal.getsignal(number)
            if current != self._handle:
                self._previous[number] = current
                signal.signal(number, self._handle)

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if self.signalled:
            _end(f"second {signal.Signals(number).name}: stopping now")
        self.signalled = True
        timer = threading.Timer(
            self.deadline, _end, (f"still running {self.deadline:.0f} s after the signal",)
        )
        timer.daemon = True
        timer.start()
        previous = self._previous.get(number)
        if callable(previous):
            previous(number, frame)
        self.install()  # Scrapy swaps in its "second signal" handler: ours stays in front


def _end(why: str) -> None:
    logger.error("Crawl ended hard: %s", why)
    logging.shutdown()
    os._exit(EXIT_INTERRUPTED)
