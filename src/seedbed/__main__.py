"""``python -m seedbed`` runs the CLI."""

from seedbed.cli import run

if __name__ == "__main__":
    run()
