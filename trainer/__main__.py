"""``python -m trainer JOB.json``: run a training job (the command line is :mod:`trainer.cli`)."""

import sys

from trainer.cli import main

if __name__ == "__main__":
    sys.exit(main())
