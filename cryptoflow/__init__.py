"""cryptoflow: Binance candles -> indicators -> strategies -> broker, every event on Kafka, indexed into
Elasticsearch.

The shared core lives in one subpackage per concern (``config``, ``candles``, ``indicators``,
``strategies``, ``brokers``, ``binance``, ``events``, ``kafka``, ``elastic``, ``stack``, ``cli``; one retry
policy in ``retry``; test kits in ``testing``); the applications
(``auto_trade``, ``backtesting``, ``backtesting_trade``, ``realtime_indicator``) own their own flow.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
