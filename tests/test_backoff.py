"""Retry delays: one policy module (``videogen.service.backoff``) for renders and webhooks."""

from __future__ import annotations

from videogen.service.backoff import compute_backoff, render_retry_delay, webhook_retry_delay


def test_retry_delays_are_the_documented_policies():
    assert [webhook_retry_delay(n) for n in range(1, 8)] == [5, 15, 45, 135, 405, 600, 600]
    assert [render_retry_delay(n, first=10) for n in (0, 1, 2, 3)] == [10, 10, 20, 40]
    assert compute_backoff(4, first=1, factor=2, cap=5) == 5
