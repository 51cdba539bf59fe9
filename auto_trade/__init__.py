"""Live trading: closed candles -> strategy -> broker -> candle, signal and trade events."""
