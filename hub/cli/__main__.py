"""`python -m hub.cli`: the same as the `voxhub` command."""

import sys

from hub.cli import main

sys.exit(main())
