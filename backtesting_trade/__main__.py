"""``python -m backtesting_trade ...`` is ``cryptoflow replay ...``."""

import sys

from cryptoflow.cli import main

sys.exit(main(["replay", *sys.argv[1:]]))
