"""``seedbed.atomic``: a file is replaced whole or not at all (no server needed)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from seedbed.atomic import replacing, replacing_all

OLD = b"an older backup \x00\xff that must survive\n"


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def test_a_failing_write_leaves_the_file_byte_for_byte_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "kept.dump"
    target.write_bytes(OLD)
    with pytest.raises(RuntimeError, match="half way"), replacing(target) as temp:
        temp.write_bytes(b"half a new file")
        raise RuntimeError("half way")
    assert target.read_bytes() == OLD
    assert _siblings(target) == ["kept.dump"]


def test_a_successful_write_replaces_the_file_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_bytes(OLD)
    target.chmod(0o640)
    with replacing(target, durable=True) as temp:
        assert temp.parent == tmp_path and temp.name.endswith("-report.csv")
        temp.write_text("new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _siblings(target) == ["report.csv"]


def test_a_new_file_gets_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        with replacing(tmp_path / "new.csv") as temp:
            temp.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o640


def test_a_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "out.dump").mkdir()
    with pytest.raises(IsADirectoryError), replacing(tmp_path / "out.dump"):
        pytest.fail("the block must not run")
    assert _siblings(tmp_path / "out.dump") == ["out.dump"]


def test_a_link_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.md"
    real.write_bytes(OLD)
    link = tmp_path / "link.md"
    link.symlink_to(real)
    with replacing(link) as temp:
        temp.write_text("new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_fifo_is_written_directly(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with replacing(fifo) as temp:
        assert temp == fifo


def test_a_set_of_files_is_replaced_only_when_every_file_was_written(tmp_path: Path) -> None:
    first, second = tmp_path / "user.csv", tmp_path / "post.csv"
    first.write_bytes(OLD)
    second.write_bytes(OLD * 2)
    with pytest.raises(OSError, match="disk full"), replacing_all([first, second]) as temps:
        temps[0].write_text("new user rows")
        raise OSError("disk full")
    assert first.read_bytes() == OLD and second.read_bytes() == OLD * 2
    assert _siblings(first) == ["post.csv", "user.csv"]
    with replacing_all([first, second]) as temps:
        for temp in temps:
            temp.write_text(temp.name)
    assert first.read_text().endswith("-user.csv") and second.read_text().endswith("-post.csv")


def test_a_long_file_name_still_gets_a_temporary_beside_it(tmp_path: Path) -> None:
    target = tmp_path / ("é" * 120 + ".csv")  # 244 bytes: the limit is 255
    with replacing(target) as temp:
        temp.write_text("x")
    assert target.read_text() == "x"
