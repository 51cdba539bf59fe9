"""Historical simulation of cryptoflow strategies, statistics and Plotly HTML reports.

Note: this package shadows the PyPI package ``backtesting`` (backtesting.py); compare against that one
only from an isolated virtual environment.
"""
