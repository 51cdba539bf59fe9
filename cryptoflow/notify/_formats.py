"""The body of each webhook format: generic JSON, a Slack incoming webhook, Telegram's ``sendMessage``.

- ``generic``: one POST per notice, the body :meth:`Notice.fields` (``kind``, ``text``, ``event_id``,
  ``symbol``, ``side``, ``quantity``, ``price``, ``pnl``, ``pnl_pct``, ``reason``, …).
- ``slack``: ``{"text": …, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": …}}]}``,
  one line per notice, the kind in bold; ``&``, ``<`` and ``>`` escaped as Slack asks (a ``<!channel>``
  in a reason would otherwise ping everyone). A section holds 3000 characters at most.
- ``telegram``: ``{"chat_id": …, "text": …, "parse_mode": "HTML", "disable_web_page_preview": true}``,
  the kind in ``<b>``, ``&``, ``<`` and ``>`` escaped as its HTML mode asks; 4096 characters at most.

Slack and Telegram messages gather the notices that wait for the same target (see
:attr:`~cryptoflow.config.NotifyTarget.min_interval_s`): up to :data:`MAX_LINES` lines, within the
size limit, each notice in one message only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptoflow.config import NotifyTarget
from cryptoflow.notify._notices import Notice

__all__ = ["MAX_LINES", "Post", "posts"]

MAX_LINES = 20
"""Notices in one Slack or Telegram message at most."""

_LIMITS = {"slack": 3000, "telegram": 4096}


@dataclass(frozen=True)
class Post:
    """One request to a target: its ``body`` (JSON) and the ids of the notices it carries. The URL is
    the target's (:func:`url_of`): it holds a secret, so a post never carries it."""

    body: dict[str, Any]
    event_ids: tuple[str, ...]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_line(notice: Notice) -> str:
    head, _, rest = notice.text.partition(" ")
    return f"*{head}* {_escape(rest)}"


def _telegram_line(notice: Notice) -> str:
    head, _, rest = notice.text.partition(" ")
    return f"<b>{head}</b> {_escape(rest)}"


def _chunks(
    notices: list[Notice], line: Callable[[Notice], str], limit: int
) -> list[tuple[str, tuple[str, ...]]]:
    """``(text, event ids)`` of each message: at most MAX_LINES lines and ``limit`` characters."""
    messages: list[tuple[str, tuple[str, ...]]] = []
    lines: list[str] = []
    ids: list[str] = []
    for notice in notices:
        text = line(notice)
        if len(text) > limit:
            text = text[: limit - 1]
            entity = text.rfind("&", len(text) - 5)  # escaped text: no entity (&lt; &amp;) cut in two
            if entity != -1 and ";" not in text[entity:]:
                text = text[:entity]
            text += "…"
        if lines and (len(lines) >= MAX_LINES or sum(map(len, lines)) + len(lines) + len(text) > limit):
            messages.append(("\n".join(lines), tuple(ids)))
            lines, ids = [], []
        lines.append(text)
        ids.append(notice.event_id)
    if lines:
        messages.append(("\n".join(lines), tuple(ids)))
    return messages


def posts(target: NotifyTarget, notices: list[Notice]) -> list[Post]:
    """The requests that tell ``target`` about ``notices``, in their order."""
    if target.format == "generic":
        return [Post(notice.fields(), (notice.event_id,)) for notice in notices]
    if target.format == "slack":
        return [
            Post(
                {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}, ids
            )
            for text, ids in _chunks(notices, _slack_line, _LIMITS["slack"])
        ]
    return [
        Post(
            {"chat_id": target.chat_id, "text": text, "parse_mode": "HTML", "disable_web_page_preview": True},
            ids,
        )
        for text, ids in _chunks(notices, _telegram_line, _LIMITS["telegram"])
    ]


def url_of(target: NotifyTarget) -> str:
    """Where ``target``'s posts go. A secret (a Slack webhook URL, a Telegram token inside the URL):
    never log it."""
    if target.format == "telegram":
        assert target.bot_token is not None
        return f"{target.api_url}/bot{target.bot_token.get_secret_value()}/sendMessage"
    assert target.webhook_url is not None
    return target.webhook_url.get_secret_value()
