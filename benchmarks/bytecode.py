"""seedbed's bytecode, written before a benchmark times the ``seedbed`` process.

An installed package has it: pip compiles what it installs, and an editable
checkout writes it on its first import. Where ``PYTHONDONTWRITEBYTECODE`` is
set (some containers and CI images set it), every ``seedbed`` process would
compile seedbed's source again, about a tenth of a second that no user's
process pays, so each benchmark writes it once, first.
"""

from __future__ import annotations

import compileall
from pathlib import Path

import seedbed


def compile_seedbed() -> None:
    """Write the ``__pycache__`` of the seedbed package being benchmarked (git-ignored)."""
    compileall.compile_dir(Path(seedbed.__file__).parent, quiet=1)
