"""Request signing checks exactly as Binance applies them (HMAC-SHA256, timestamp, recvWindow)."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qsl, unquote_plus

from cryptoflow.testing.fake_binance._account import BinanceError

__all__ = ["API_KEY", "API_SECRET", "check_signed", "parse_params", "sign"]

API_KEY, API_SECRET = "fake-api-key", "fake-api-secret"
"""The credentials a :class:`~cryptoflow.testing.fake_binance.FakeExchange` accepts unless told others."""

MAX_RECV_WINDOW = 60_000
DEFAULT_RECV_WINDOW = 5_000


def sign(secret: str, total_params: str) -> str:
    """HMAC-SHA256 of ``total_params`` (query string followed by the body) as lowercase hex."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def parse_params(query: str, body: str) -> dict[str, str]:
    """Parameters from the raw query string and form body (the body wins on a repeated name)."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    params.update(parse_qsl(body, keep_blank_values=True))
    return params


def _without_signature(raw: str) -> tuple[str, str | None]:
    kept, signature = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def check_signed(
    *, api_key_header: str | None, api_key: str, secret: str, query: str, body: str, now_ms: int | None = None
) -> None:
    """Raise :class:`BinanceError` as Binance would for a bad key, signature, timestamp or recvWindow."""
    if not api_key_header:
        raise BinanceError(-2014, "API-key format invalid.", 401)
    if not hmac.compare_digest(api_key_header, api_key):
        raise BinanceError(
            -2015, "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1", 401
        )
    query_part, sig_q = _without_signature(query)
    body_part, sig_b = _without_signature(body)
    signature = sig_b or sig_q
    if not signature:
        raise BinanceError(
            -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
        )
    signature = unquote_plus(signature)
    total = query_part + body_part
    candidates = {total, unquote_plus(query_part) + unquote_plus(body_part)}
    if not any(hmac.compare_digest(sign(secret, c), signature.lower()) for c in candidates):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    params = parse_params(query, body)
    try:
        timestamp = int(params["timestamp"])
    except (KeyError, ValueError):
        raise BinanceError(
            -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        ) from None
    try:
        recv_window = int(params.get("recvWindow", DEFAULT_RECV_WINDOW))
    except ValueError:
        raise BinanceError(-1100, "Illegal characters found in parameter 'recvWindow'.") from None
    if recv_window > MAX_RECV_WINDOW or recv_window <= 0:
        raise BinanceError(-1131, "recvWindow must be less than 60000")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if timestamp >= now + 1000:
        raise BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now - timestamp > recv_window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
