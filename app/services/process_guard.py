"""No orphans: a model server dies with the panel that launched it, even when the panel is killed.

Two independent guards, because either alone has a gap:

* Linux ``PR_SET_PDEATHSIG``: the kernel sends SIGKILL to the server the moment its parent
  dies. Instant, but Linux only, and it reaches the server process, not what it spawned.
* A watchdog thread inside the server (``exit_with_parent``), told the launcher's PID through
  ``ML_LAUNCHER_PARENT_PID``: within a second of the parent vanishing it kills the server's
  whole process group. Works on every OS and takes helper processes down too.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

import psutil

PARENT_PID_ENV = "ML_LAUNCHER_PARENT_PID"
_PR_SET_PDEATHSIG = 1
_POLL_SECONDS = 0.5


def die_with_parent_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` that arms PDEATHSIG in the child; None where the OS has no such thing.

    The kernel fires it when the *thread* that forked exits, so launch from the event-loop
    thread (the main thread in the panel and the CLI), never from a short-lived worker thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the guard was armed
            os._exit(1)

    return arm


def exit_with_parent() -> None:
    """In a launched server: start the watchdog if a launcher said who the parent is."""
    raw = os.environ.get(PARENT_PID_ENV)
    if not raw or not raw.isdigit():
        return
    parent = int(raw)
    thread = threading.Thread(target=_watch, args=(parent,), name="parent-watchdog", daemon=True)
    thread.start()


def _watch(parent: int) -> None:
    while psutil.pid_exists(parent) and os.getppid() == parent:
        time.sleep(_POLL_SECONDS)
    if hasattr(os, "killpg") and os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(1)
