"""API keys and the write rate limit: ``require_key(settings)`` makes the dependency of the
API's write endpoints."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from fastapi import Request

from videogen.http.problems import Problem
from videogen.http.ratelimit import RateLimiter, retry_after
from videogen.settings import Settings


def require_key(settings: Settings) -> Callable[[Request], None]:
    """A dependency that checks the request's API key (``Authorization: Bearer`` or
    ``X-API-Key``; none needed when no keys are configured) and takes a token from the caller's
    rate-limit bucket. Make one per app: its buckets are shared by every route that uses it."""
    keys = [k.encode() for k in settings.api_key_list]
    limiter = RateLimiter(settings.rate_limit)

    def check(request: Request) -> None:
        given = request.headers.get("x-api-key", "")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if keys:
            ok = False
            for k in keys:  # compare with every key, in constant time: no early exit to time
                ok |= hmac.compare_digest(k, given.encode())
            if not ok:
                raise Problem(401, "Unauthorized", "a valid API key is required (Authorization: Bearer <key>)",
                              headers={"WWW-Authenticate": "Bearer"})
            who = "key:" + hashlib.sha256(given.encode()).hexdigest()[:16]  # never keep the key itself
        else:
            who = "addr:" + (request.client.host if request.client else "?")
        wait = limiter.take(who)
        if wait > 0:
            raise Problem(429, "Too Many Requests", f"at most {settings.rate_limit} write requests a minute",
                          headers={"Retry-After": retry_after(wait)})

    return check
