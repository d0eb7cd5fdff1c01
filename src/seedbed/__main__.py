"""``python -m seedbed`` runs the CLI."""

import sys

from seedbed.cli import main

sys.exit(main())
