"""Reading seed files and COPYing them into the namespace, all tables in one transaction."""

from __future__ import annotations

from seedbed.loading.plain import load_seed_folder, seed_files

__all__ = ["load_seed_folder", "seed_files"]
