"""An installed package (not the checkout) migrates from any folder with its own copy."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from seedbed import migrate
from seedbed.config import Settings
from tests.helpers import ROOT, fresh_settings, head_revision


def _build_wheel(out: Path) -> Path:
    """Build from a clean copy of the sources, so no stale build/ folder gets in."""
    source = out / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in ("src", "migrations"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    # Without build isolation when this environment's setuptools can build wheels
    # by itself (70.1+), so the build needs no index.
    isolation = (
        ["--no-build-isolation"]
        if importlib.util.find_spec("setuptools.command.bdist_wheel")
        else []
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(out), "."],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = out.glob("seedbed-*.whl")
    return wheel


def test_installed_wheel_migrates_from_an_empty_folder_and_generates_nothing_into_itself(
    tmp_path: Path, db_env: dict[str, str], base_settings: Settings
) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        check=True,
        capture_output=True,
        timeout=120,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    settings = fresh_settings(base_settings, "wheel")
    env = {**db_env, "PYTHONPATH": str(site), "SEEDBED_SCHEMA": settings.schema}
    env.pop("SEEDBED_MIGRATIONS", None)

    def seedbed(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "seedbed", *args],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "from seedbed.migrate import migrations_dir; print(migrations_dir())",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()) == site / "seedbed" / "_migrations"
    try:
        migrated = seedbed("db", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        assert f"at revision {head_revision()}" in migrated.stdout
        checked = seedbed("db", "check")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        refused = seedbed("db", "generate", "-m", "into the installed package")
        assert refused.returncode == 2
        assert "installed package" in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        migrate.reset(settings)
    assert os.listdir(elsewhere) == []
