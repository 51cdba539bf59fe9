"""Errors in Binance's shape."""

from __future__ import annotations

__all__ = ["BinanceError"]


class BinanceError(Exception):
    """An error answered in Binance's shape: ``{"code": code, "msg": msg}`` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> dict[str, object]:
        """The JSON body Binance answers."""
        return {"code": self.code, "msg": self.msg}
