"""The exit codes of the `ecnews` commands, the contract with cron (README, "Exit codes")."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
"""The run failed (see the log and `ecnews runs`)."""
EXIT_USAGE = 2
"""Bad command line or configuration: nothing was started."""
EXIT_LOCKED = 3
"""Another crawl holds the lock: nothing was done."""
EXIT_INTERRUPTED = 4
"""SIGTERM/SIGINT: resume with --resume."""
EXIT_PORT_BUSY = 5
"""`ecnews serve`: the port cannot be listened on (in use, or not allowed)."""
