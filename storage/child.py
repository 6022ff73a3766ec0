"""What a helper process of the crawl does first: die with the crawl, hold none of its stdio.

The writer process (``storage/writer.py``) and the archive process
(``crawler/archive/writer.py``) are children of the crawl that must never outlive it: the
kernel kills them when the crawl dies (``PR_SET_PDEATHSIG``); a crawl that died before the
child could ask is noticed by comparing the parent with the crawl's pid, passed in at
start (and polled while idle: ``parent_gone``). A dead crawl's pipes must reach EOF, so the
child's stdin, stdout and stderr point at /dev/null. Ctrl-C and SIGTERM reach the whole
process group: the crawl decides when its children stop.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# How often an idle child checks that the crawl that started it is still alive.
PARENT_POLL_SECONDS = 1.0


def become_child_of(parent: int) -> None:
    """Tie this process to the crawl `parent` (exiting now if it is gone already)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: parent_gone polls
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_gone(parent):  # died before prctl: nobody would send the signal
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def parent_gone(parent: int) -> bool:
    return os.getppid() != parent
