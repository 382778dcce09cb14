import sys

from workers.metrics_server.app import main

sys.exit(main())
