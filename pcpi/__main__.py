"""``python -m pcpi``: the ``pcpi`` command line (:mod:`pcpi.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":  # pragma: no branch
    sys.exit(main())
