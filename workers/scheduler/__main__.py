"""``python -m workers.scheduler``: the same as ``manage.py scheduler``."""
import sys

from workers.scheduler.app import main

sys.exit(main())
