"""Webhooks: a signed POST to the job's URL when it is done or failed, when a render in review
mode is waiting for an editor, and when an editor publishes or unpublishes its clip.

Body: ``{"event": "video.done" | "video.failed" | "video.review_requested" | "video.published" |
"video.unpublished", "job": {...}}``. Headers:
``X-Videogen-Event``, ``X-Videogen-Timestamp`` and ``X-Videogen-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``"<timestamp>.<body>"`` with the shared secret. Receivers check the signature
with ``verify`` (constant-time) and reject old timestamps. The URL goes through the same
address checks as images (``VIDEOGEN_WEBHOOK_HOSTS_ALLOW`` lists internal receivers)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Collection
from typing import Any

import httpx

from videogen.errors import VideogenError
from videogen.net import pinned_request


class WebhookError(VideogenError):
    """The receiver did not take the event (network error, non-2xx): retry later."""

    transient = True


class WebhookRefused(VideogenError):
    """The URL may not be called (bad scheme, non-public address): never retried."""


#: Events a webhook message may name (``VideoService.notify_event`` and a render that ended in
#: review); a message naming none announces the job's ending by its status.
NAMED_EVENTS = ("video.review_requested", "video.published", "video.unpublished")


def event_for(status: str, event: str | None = None) -> str:
    """The event a webhook message announces: the one it names, else the job's ending:
    ``video.review_requested`` for a render waiting for review, ``video.done``,
    ``video.failed`` (failed or cancelled)."""
    if event in NAMED_EVENTS:
        return event
    return {"review": "video.review_requested", "done": "video.done"}.get(status, "video.failed")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, max_age: float = 300.0) -> bool:
    try:
        age = abs(time.time() - float(timestamp))
    except ValueError:
        return False
    return age <= max_age and hmac.compare_digest(sign(secret, timestamp, body), signature)


def deliver(url: str, event: str, job: dict[str, Any], secret: str | None, timeout: float = 10.0,
            allowed: Collection[str] = ()) -> int:
    """POST the event; returns the status code. Raises WebhookError on anything but 2xx,
    WebhookRefused for a URL that may not be called. ``allowed``: internal hosts that skip
    the address check (``VIDEOGEN_WEBHOOK_HOSTS_ALLOW``)."""
    body = json.dumps({"event": event, "job": job}, ensure_ascii=False, separators=(",", ":")).encode()
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Videogen-Event": event, "X-Videogen-Timestamp": ts}
    if secret:
        headers["X-Videogen-Signature"] = sign(secret, ts, body)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            resp = pinned_request(client, "POST", url, allowed, headers, body)
            resp.close()
    except httpx.HTTPError as e:
        raise WebhookError(f"webhook to {url} failed: {type(e).__name__}") from None
    except VideogenError as e:
        raise WebhookRefused(f"webhook to {url} refused: {e}") from None
    if not 200 <= resp.status_code < 300:
        raise WebhookError(f"webhook to {url} answered {resp.status_code}")
    return resp.status_code
