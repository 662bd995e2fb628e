"""Write files atomically: a temporary file beside the target, fsync, then rename.

A run killed part-way leaves either the old file or none, never half of one.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator

from .errors import OutputError

# Errors writing a file that are about where it goes (space, permissions), not about the program.
_PLACE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}

# Read once at import: os.umask() can only be read by setting it, which is not thread-safe.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _raise_place_error(exc: BaseException, target: Path, outcome: str) -> None:
    """A write that failed for where it goes (a full or read-only disk) as one OutputError naming the path."""
    if isinstance(exc, OSError) and exc.errno in _PLACE_ERRORS:
        raise OutputError(f"cannot write {target}: {exc.strerror}; free some space or choose another path "
                          f"({outcome})") from None


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file for writing that replaces ``path`` only when the block succeeds."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}; choose a writable path") from None
    try:
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        _raise_place_error(exc, target, "nothing was written")
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


@contextlib.contextmanager
def atomic_files(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """Temporary paths beside ``paths`` that replace them together when the block succeeds: a set of
    files (a cache and its models) is written all or not at all; on any failure or interrupt the old set
    stays as it was and the temporaries go."""
    targets = [Path(p) for p in paths]
    temps: list[Path] = []
    try:
        try:
            for target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
                os.close(fd)
                temps.append(Path(tmp))
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}; choose a writable path") from None
        yield temps
        for tmp in temps:
            os.chmod(tmp, 0o666 & ~_UMASK)
        for tmp, target in zip(temps, targets):
            os.replace(tmp, target)
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def write_all(files: dict[str | os.PathLike, bytes]) -> None:
    """Write several files as one set: all of them, or (on a full disk, an interrupt) none."""
    targets = list(files)
    with atomic_files(*targets) as temps:
        for tmp, target in zip(temps, targets):
            try:
                with open(tmp, "wb") as fh:
                    fh.write(files[target])
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                _raise_place_error(exc, target, "none of the files was written")
                raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, replace: bool = False) -> Iterator[Path]:
    """A temporary folder beside ``path`` that becomes ``path`` only when the block succeeds.

    An existing ``path`` is an error unless ``replace``; then it is swapped out only after the new
    folder is complete, so a failed export leaves the old one as it was.
    """
    target = Path(path)
    if target.exists() and not (replace and target.is_dir()):
        what = "a file" if not target.is_dir() else "a folder"
        raise OutputError(f"{target} is already {what}; pass --force to replace it, or choose another --out")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}; choose a writable path") from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / "previous")
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
