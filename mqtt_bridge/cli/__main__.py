import sys

from mqtt_bridge.cli import main

sys.exit(main())
