"""Notifications (``cryptoflow notify``): entries, exits, signals, protection locks and errors from Kafka
to webhooks (generic JSON, Slack, Telegram), at least once and without reposting what was delivered.

Where to post is in the settings (:class:`~cryptoflow.config.NotifySettings`); how the loop runs in
:class:`NotifyOptions`; what a person reads of each event in :class:`Notice`.

>>> from cryptoflow.config import load_settings
>>> from cryptoflow.notify import Notifier, NotifyOptions
>>> Notifier(load_settings(), NotifyOptions(once=True)).run()  # doctest: +SKIP
NotifyStats(read=…, notices=…, posts=…, …)
"""

from cryptoflow.notify._formats import MAX_LINES, Post, posts
from cryptoflow.notify._notices import Notice, read_notice
from cryptoflow.notify._options import NotifyOptions
from cryptoflow.notify._runner import Notifier, NotifyStats
from cryptoflow.notify._webhook import TargetRefused

__all__ = [
    "MAX_LINES",
    "Notice",
    "Notifier",
    "NotifyOptions",
    "NotifyStats",
    "Post",
    "TargetRefused",
    "posts",
    "read_notice",
]
