"""How long to wait before trying again: the one place the retry delays are written down.

``compute_backoff`` is plain exponential backoff (dramatiq's ``common.compute_backoff`` without
the jitter: Celery spreads the retries of different jobs anyway, since they fail at different
times). The two policies below are the ones the workers use (``workers.tasks``)."""

from __future__ import annotations


def compute_backoff(attempt: int, first: float, factor: float = 2.0, cap: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first retry):
    ``first * factor ** (attempt - 1)``, at most ``cap`` when one is given. An ``attempt``
    below 1 counts as 1.

    >>> [compute_backoff(n, first=5, factor=3, cap=600) for n in range(1, 7)]
    [5, 15, 45, 135, 405, 600]
    """
    delay = first * factor ** (max(1, attempt) - 1)
    return delay if cap is None else min(cap, delay)


def render_retry_delay(attempts: int, first: float) -> float:
    """A render that failed for a transient reason (image host timed out, storage error) after
    ``attempts`` attempts: ``first``, then twice as long each time (10 s, 20 s, 40 s… with
    ``VIDEOGEN_RETRY_BACKOFF=10``, the default). No cap: ``VIDEOGEN_MAX_ATTEMPTS`` (3) ends
    the retries first."""
    return compute_backoff(attempts, first=first, factor=2)


def webhook_retry_delay(attempt: int) -> float:
    """A webhook delivery that failed on its ``attempt``-th try: 5 s, 15 s, 45 s, 135 s, 405 s,
    then every 600 s until ``VIDEOGEN_WEBHOOK_MAX_ATTEMPTS`` (6) is reached."""
    return compute_backoff(attempt, first=5, factor=3, cap=600)
