"""A bot file of three built-in strategies over the five real 2025-08 symbols, for the CLI and report
tests."""

SYMBOLS = ("ETHUSDT", "BTCUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")
BOT = """name = "three"
interval = "5m"
symbols = ["ETHUSDT", "BTCUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"]
broker = "paper"
[capital]
total = 10000.0
[[strategies]]
strategy = "basic"
run_id = "sig-basic"
[[strategies]]
strategy = "custom"
run_id = "sig-custom"
[[strategies]]
strategy = "ensemble"
run_id = "sig-ensemble"
[protections]
max_open_positions = 3
"""
