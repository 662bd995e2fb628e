"""What ``lpr-edge serve`` leaves behind when Triton dies: nothing.

Triton runs each model instance in a ``triton_python_backend_stub`` process, which starts Python
children of its own. When the server is killed (SIGKILL, the OOM killer) those are re-parented to init,
ignore SIGTERM and stay, holding a shared-memory segment. ``lpr-edge serve`` makes itself their
subreaper (Linux ``PR_SET_CHILD_SUBREAPER``), so such orphans become its children, and ends every one of
them, and the segments PyTriton named after it, when it stops for any reason.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import time
from pathlib import Path
from typing import Iterator

PR_SET_CHILD_SUBREAPER = 36
SHM = Path("/dev/shm")


def _set_subreaper(on: bool) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux: nothing is re-parented to us, nothing to end
        return False


def children(pid: int | None = None) -> set[int]:
    """The live processes whose parent is ``pid`` (this process by default)."""
    parent, found = pid or os.getpid(), set()
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def end_orphans(keep: set[int], wait_s: float = 5.0) -> list[int]:
    """SIGKILL every child of this process not in ``keep`` (they ignore SIGTERM), again for their own
    children as they are re-parented here, and reap them all; returns the PIDs ended."""
    ended: list[int] = []
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        orphans = children() - keep
        if not orphans:
            break
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            ended.append(pid)
        time.sleep(0.05)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
    return ended


def remove_shared_memory(pid: int | None = None) -> list[str]:
    """Remove the shared-memory segments PyTriton named after this process (``pytrtion<pid>-...``)."""
    removed = []
    for segment in SHM.glob(f"pytrtion{pid or os.getpid()}-*") if SHM.is_dir() else ():
        with contextlib.suppress(OSError):
            segment.unlink()
            removed.append(segment.name)
    return removed


@contextlib.contextmanager
def nothing_left_behind() -> Iterator[None]:
    """While serving: orphaned Triton processes come here; afterwards they and their segments are ended."""
    keep = children()  # what this process ran before serving is not ours to end
    subreaper = _set_subreaper(True)
    try:
        yield
    finally:
        if subreaper:
            end_orphans(keep)
            _set_subreaper(False)
        remove_shared_memory()
