"""``python -m bertopic_sae`` runs the command line (see :mod:`bertopic_sae.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
