"""What a crawl writes to the terminal: log records without tracebacks (one line per
exception) unless LOG_LEVEL=DEBUG; a --log-file keeps them whole."""

from __future__ import annotations

import logging

TRACEBACK = "Traceback (most recent call last):"


class ConsoleFormatter(logging.Formatter):
    """A record's exception as `(Type: message)` on its own line, not a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        exc_info, exc_text, stack_info = record.exc_info, record.exc_text, record.stack_info
        # Cleared for this handler only: other handlers (the log file) format them whole.
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            text = super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = exc_info, exc_text, stack_info
        if exc_info and exc_info[1] is not None:
            text += f"  ({_one_line(exc_info[1])})"
        # Twisted's "Unhandled error in Deferred" puts the traceback in the message itself.
        head, found, tail = text.partition(TRACEBACK)
        if not found:
            return text
        last = next((line for line in reversed(tail.splitlines()) if line.strip()), "")
        return f"{head.rstrip()}  ({last.strip()})"


def _one_line(error: BaseException) -> str:
    first = next(iter(str(error).strip().splitlines()), "")
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


class _NoSpidermonReport(logging.Filter):
    """`ecnews crawl` states the monitors' verdict itself, one line per failed monitor;
    Spidermon's unittest-style report says it again at length (the log file keeps it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("[Spidermon]")


class CrawlConsole:
    """Sets up the terminal handler that Scrapy installs (and re-installs once the
    crawler's settings are applied): call `install()` again on `engine_started`."""

    def __init__(self, level: str, *, verdict_follows: bool) -> None:
        self.debug = str(level).upper() == "DEBUG"
        self.verdict_follows = verdict_follows

    def install(self) -> None:
        for handler in logging.getLogger().handlers:
            if type(handler) is not logging.StreamHandler:  # the log file keeps everything
                continue
            if not self.debug and not isinstance(handler.formatter, ConsoleFormatter):
                old = handler.formatter
                handler.setFormatter(
                    ConsoleFormatter(old._fmt if old else None, old.datefmt if old else None)
                )
            if self.verdict_follows and not any(
                isinstance(f, _NoSpidermonReport) for f in handler.filters
            ):
                handler.addFilter(_NoSpidermonReport())
