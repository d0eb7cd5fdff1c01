"""Files that are replaced whole or not at all: what every file seedbed writes goes through.

A command that fails (the server is down, the disk is full, a value cannot be
encoded) must not cost the user the file that was there before: a backup, a
failures CSV, the data-model document, a generated seed set. So the new
content is written to a temporary file beside the target, and renamed over
it (``os.replace``, atomic on one file system) only when the writing
succeeded; on any error the temporary file is removed and the target is
untouched, byte for byte.

>>> with replacing("docs/reference/data-models.md") as temp:  # doctest: +SKIP
...     temp.write_text(text)
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replacing", "replacing_all"]


@contextmanager
def replacing(target: Path | str, *, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside ``target`` to write to; it replaces ``target`` on success.

    ``durable`` flushes the new file to disk before the rename (for backups),
    so a crash right after cannot leave an empty file where the old one was.
    See :func:`replacing_all` for the rules.
    """
    with replacing_all([target], durable=durable) as (temp,):
        yield temp


@contextmanager
def replacing_all(targets: Sequence[Path | str], *, durable: bool = False) -> Iterator[list[Path]]:
    """Temporary paths beside ``targets``; all replace their targets when the block succeeds.

    Every temporary file is written before any target is replaced, so a
    failure while writing any of them (a folder of seed files) leaves every
    target as it was. The rules:

    - a target that is a folder raises :class:`IsADirectoryError` before
      anything is written; a missing parent folder raises
      :class:`FileNotFoundError` (callers create the folders they want);
    - a symbolic link is followed: the file it points to is replaced;
    - a target that exists but is not a regular file (``/dev/stdout``, a
      FIFO) has nothing to lose and is written directly;
    - a replaced file keeps its permission bits; a new one gets the usual
      ``0666`` less the umask.
    """
    destinations = [_destination(Path(target)) for target in targets]
    temps: list[Path] = []
    try:
        for destination in destinations:
            temps.append(_temporary_beside(destination))
        yield temps
        pairs = [(t, d) for t, d in zip(temps, destinations, strict=True) if t != d]
        if durable:
            for temp, _ in pairs:
                _flush_to_disk(temp)
        for temp, destination in pairs:
            os.replace(temp, destination)
    finally:
        for temp, destination in zip(temps, destinations, strict=False):
            if temp != destination:
                temp.unlink(missing_ok=True)  # already renamed on success


def _destination(target: Path) -> Path:
    """The file to replace: ``target`` with links followed, checked not to be a folder."""
    resolved = Path(os.path.realpath(target))
    if resolved.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
    return resolved


def _temporary_beside(target: Path) -> Path:
    """An empty new file in ``target``'s folder (or ``target`` itself if it is not a file)."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    else:
        if not target.is_file():
            return target  # a device or a FIFO: nothing there to keep
    # The name ends like the target's: writers choose compression by it (pandas).
    # It is cut to stay within the 255 bytes a file name may have.
    tail = target.name
    while len(os.fsencode(tail)) > 200:
        tail = tail[1:]
    while True:
        temp = target.with_name(f".tmp-{secrets.token_hex(4)}-{tail}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        try:
            if mode is not None:
                os.fchmod(fd, mode)
        finally:
            os.close(fd)
        return temp


def _flush_to_disk(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
