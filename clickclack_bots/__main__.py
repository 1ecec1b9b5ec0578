"""``python -m clickclack_bots module:bot``: run a bot until SIGINT/SIGTERM."""

import sys

from clickclack_bots._cli import main

sys.exit(main())
