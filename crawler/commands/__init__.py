"""The `ecnews` commands, one module each, registered in crawler/cli.py.

A command module holds `add_parser(subparsers)`, which adds the subcommand named like the
module, and `run(args) -> int`, which returns the exit code (crawler/exitcodes.py). A
problem the user can act on is raised as `CommandError`: cli.py prints it as one line,
`ecnews <command>: <message>`, and exits with its code.
"""

from __future__ import annotations

from crawler.exitcodes import EXIT_FAILED


class CommandError(Exception):
    """A problem the user can act on: one line on stderr, then this exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code
