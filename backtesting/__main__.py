"""``python -m backtesting ...`` is ``cryptoflow backtest ...``."""

import sys

from cryptoflow.cli import main

sys.exit(main(["backtest", *sys.argv[1:]]))
