"""``python -m seedbed`` runs the CLI."""

from seedbed.cli import run

run()
