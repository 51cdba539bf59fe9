"""``python -m realtime_indicator [options]`` is ``cryptoflow indicators [options]``."""

import sys

from cryptoflow.cli import main

sys.exit(main(["indicators", *sys.argv[1:]]))
