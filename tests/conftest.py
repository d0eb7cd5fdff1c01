"""Fixtures: a real PostgreSQL for the whole run, and a fresh namespace per test.

Without ``DATABASE_URL`` the suite starts its own embedded server in a
temporary directory; with it, tests run against that server (PostgreSQL 14+),
each in namespaces of their own that are dropped afterwards.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from seedbed import migrate
from seedbed.config import Settings, load_settings
from seedbed.db import database_url, get_engine, stop_embedded
from tests.citus_cluster import citus
from tests.helpers import ROOT, fresh_namespace, fresh_settings, run_cli
from tests.notebook_runs import NotebookRuns, kernel_environment
from tests.revision_files import RevisionFolder

# The fixtures below use these; test modules import them from ``tests.helpers``.
__all__ = ["ROOT", "citus", "fresh_namespace", "fresh_settings", "run_cli"]

#: Test files whose tests run on one worker under ``-n`` (``--dist loadgroup``): one Citus
#: cluster at a time, and each notebook executed once (``notebook_runs``).
WORKER_GROUPS = {
    "tests/test_citus.py": "citus",
    "tests/test_citus_errors.py": "citus",
    "tests/test_citus_explore.py": "citus",
    "tests/test_notebooks.py": "notebooks",
    "tests/test_browser.py": "notebooks",
}


class _GroupedByFile:
    """``--dist loadgroup`` by :data:`WORKER_GROUPS`, other tests one by one.

    pytest-xdist's own groups (``xdist_group`` marks) are lost with pytest 9.2, whose
    node ids the worker can no longer suffix (pytest-dev/pytest-xdist#1386), so the
    scheduler groups by file, which it sees in every node id.
    """

    @pytest.hookimpl
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: object) -> object:
        if config.getvalue("dist") != "loadgroup":
            return None
        from xdist.scheduler import LoadScopeScheduling

        class Scheduling(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return WORKER_GROUPS.get(nodeid.split("::", 1)[0], nodeid)

        return Scheduling(config, log)


def pytest_configure(config: pytest.Config) -> None:
    # The model snapshots the runs write (seedbed.facts.snapshot): in a folder of this run's.
    os.environ["SEEDBED_CACHE"] = tempfile.mkdtemp(prefix="seedbed-cache-")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_GroupedByFile(), "seedbed-worker-groups")


@pytest.fixture(scope="session")
def server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Home of the embedded server for this run (unused with DATABASE_URL)."""
    return tmp_path_factory.mktemp("seedbed-home")


@pytest.fixture(scope="session")
def base_settings(server_home: Path) -> Iterator[Settings]:
    settings = load_settings(schema="seedbed", home=server_home)
    database_url(settings)  # start the embedded server once, up front
    yield settings
    if settings.embedded:
        # Return connections that tests dropped without closing while the server is up,
        # then stop it: subprocesses killed on purpose leave their handle behind.
        gc.collect()
        stop_embedded(settings.home)


@pytest.fixture(scope="session")
def db_env(base_settings: Settings) -> dict[str, str]:
    """Environment for subprocesses (the CLI) that should use the test server."""
    env = dict(os.environ)
    env["SEEDBED_HOME"] = str(base_settings.home)
    env.pop("SEEDBED_SCHEMA", None)
    return env


@pytest.fixture
def empty_settings(base_settings: Settings) -> Iterator[Settings]:
    """Settings for a namespace that does not exist yet; dropped after the test."""
    settings = fresh_settings(base_settings)
    yield settings
    migrate.reset(settings)


@pytest.fixture
def settings(empty_settings: Settings) -> Settings:
    """Settings for a freshly migrated namespace."""
    migrate.upgrade_unchecked(empty_settings)
    return empty_settings


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return get_engine(settings)


@pytest.fixture
def populated(settings: Settings) -> Settings:
    """A migrated namespace holding the project's seed set (``data/seeds``)."""
    from seedbed.loading import load

    load(ROOT / "data" / "seeds", engine=get_engine(settings), progress=False)
    return settings


@pytest.fixture
def revisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RevisionFolder:
    """A copy of the migrations that tests add revisions to (``SEEDBED_MIGRATIONS`` names it)."""
    return RevisionFolder.copy_of_project(tmp_path / "migrations", monkeypatch)


@pytest.fixture(scope="session")
def kernel_env(db_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for notebook kernels: the test server, a small sample, this interpreter."""
    return kernel_environment(db_env, tmp_path_factory.mktemp("jupyter"))


@pytest.fixture(scope="session")
def notebook_runs(kernel_env: dict[str, str]) -> NotebookRuns:
    """The notebooks, each executed once for the whole run."""
    return NotebookRuns(kernel_env)


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A private copy of the repository's seed folder, free to edit."""
    return Path(shutil.copytree(ROOT / "data" / "seeds", tmp_path / "seeds"))
