"""``python -m auto_trade [options]`` is ``cryptoflow trade [options]``."""

import sys

from cryptoflow.cli import main

sys.exit(main(["trade", *sys.argv[1:]]))
