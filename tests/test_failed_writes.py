"""A command that fails while writing its file leaves the file that was there, byte for byte.

Each command runs in a subprocess whose files may not grow past a few
hundred bytes (``RLIMIT_FSIZE``), so its write fails part way, as on a full
disk; ``pg_dump`` inherits the limit and is stopped by ``SIGXFSZ``.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import uuid
from pathlib import Path

from seedbed.config import Settings
from tests.helpers import ROOT

OLD = b"what was there before \x00\xff\n" * 3
LIMIT = 300
PLAIN = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("SEEDBED")}


def _limited(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))

    return subprocess.run(
        [sys.executable, "-m", "seedbed", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=120,
        preexec_fn=limit_file_size,
    )


def _assert_failed_and_kept(
    done: subprocess.CompletedProcess[str], folder: Path, *names: str
) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("using ")]
    assert len(errors) == 1 and errors[0].startswith("seedbed: error: "), done.stderr
    # Every file as it was, none lost, no temporary or half-written new file left.
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == dict.fromkeys(names, OLD)


def test_a_failed_backup_keeps_the_older_backup(
    populated: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "nightly.dump").write_bytes(OLD)
    env = {**db_env, "SEEDBED_SCHEMA": populated.schema}
    done = _limited("db", "backup", "--out", str(tmp_path / "nightly.dump"), env=env)
    _assert_failed_and_kept(done, tmp_path, "nightly.dump")
    assert "backup failed: the program was stopped by SIGXFSZ" in done.stderr


def test_a_backup_with_the_server_down_keeps_the_older_backup(
    db_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "nightly.dump").write_bytes(OLD)
    down = {**db_env, "DATABASE_URL": "postgresql://me:hunter2@127.0.0.1:1/app"}
    done = _limited("db", "backup", "--out", str(tmp_path / "nightly.dump"), env=down)
    _assert_failed_and_kept(done, tmp_path, "nightly.dump")
    assert "connection" in done.stderr and "hunter2" not in done.stderr


def test_a_failed_failures_file_keeps_the_older_one(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    rows = [
        f'"{uuid.uuid4()}","not-an-email-{n}","Bad",false,,2024-09-03 21:42:14Z' for n in range(20)
    ]
    (seeds / "user.csv").write_text(
        "\n".join(['"id","email","name","email_verified","image","created_at"', *rows]) + "\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "failures.csv").write_bytes(OLD)
    done = _limited("validate", str(seeds), "--failures", str(out / "failures.csv"), env=PLAIN)
    _assert_failed_and_kept(done, out, "failures.csv")
    assert "cannot write" in done.stderr


def test_a_failed_docs_write_keeps_the_older_document(tmp_path: Path) -> None:
    (tmp_path / "data-models.md").write_bytes(OLD)
    done = _limited("docs", "--out", str(tmp_path / "data-models.md"), env=PLAIN)
    _assert_failed_and_kept(done, tmp_path, "data-models.md")


def test_a_failed_generate_keeps_every_file_of_the_older_seed_set(tmp_path: Path) -> None:
    names = ("user.csv", "account.csv", "session.csv", "post.csv")
    for name in names:
        (tmp_path / name).write_bytes(OLD)
    done = _limited("generate", "--users", "20", str(tmp_path), env=PLAIN)
    _assert_failed_and_kept(done, tmp_path, *names)
