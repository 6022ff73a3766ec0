"""The `ecnews` command: a registry of subcommands, one module each under crawler/commands/.

COMMANDS names them (crawl, the command for cron, first). Adding a command is one module
with `add_parser` and `run`, and its name in COMMANDS. Every problem the user can act
on is one line, `ecnews <command>: <message>`, with the exit code of crawler/exitcodes.py.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, Protocol

from crawler.commands import CommandError
from crawler.exitcodes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK

if TYPE_CHECKING:
    from collections.abc import Sequence

COMMANDS = (
    "crawl",
    "export",
    "runs",
    "search",
    "serve",
    "db",
    "reextract",
    "archive",
    "layout",
)
"""The modules of crawler/commands/ that are subcommands, in the order --help lists them."""


class Command(Protocol):
    def add_parser(self, subparsers: argparse._SubParsersAction[Any]) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class _CommandsFormatter(argparse.HelpFormatter):
    """argparse measures the commands two columns short of where it indents them, so a
    long name (reextract) would push its help to the next line."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):  # argparse's own type
            self._action_max_length += 2


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="ecnews",
        description="Crawl the e-commerce news site; read what it stored.",
        formatter_class=_CommandsFormatter,
    )
    subparsers = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        command: Command = importlib.import_module(f"crawler.commands.{name}")
        command.add_parser(subparsers)
        subparsers.choices[name].set_defaults(run=command.run)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    # Here, not at the top: the writer and archive processes are spawned, and re-import
    # the `ecnews` script and so this module; the settings cost a second of imports.
    from crawler.settings import LOG_LEVEL  # noqa: PLC0415

    args = parser().parse_args(argv)
    if not getattr(args, "own_logging", False):  # the crawl configures Scrapy's logging
        logging.basicConfig(level=LOG_LEVEL, format="%(message)s")
    try:
        code: int = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler
    except CommandError as error:
        print(f"ecnews {args.command}: {error}", file=sys.stderr)
        return error.code
    except BrokenPipeError:
        # The reader went away (`ecnews export | head -1`): what it wanted it has.
        # Point stdout at /dev/null so the interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print(f"ecnews {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if LOG_LEVEL.upper() == "DEBUG":
            raise
        print(f"ecnews {args.command}: {_unexpected(error)}", file=sys.stderr)
        return EXIT_FAILED
    return code


def _unexpected(error: Exception) -> str:
    if isinstance(error, OSError) and error.filename:
        # A folder that cannot be created, a file that cannot be written: the user's.
        return f"cannot use {error.filename}: {error.strerror}"
    # Ours to fix, not the user's: one line here, the traceback with LOG_LEVEL=DEBUG.
    return (
        f"unexpected error: {type(error).__name__}: {error} (LOG_LEVEL=DEBUG shows the traceback)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
