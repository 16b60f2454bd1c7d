"""API keys, the write rate limit and the wrong-key limit. ``Auth(settings)`` is made once per
app: ``auth.read`` is the dependency of every ``/v1/`` route (a key when keys are configured),
``auth.write`` that of the write routes (a key, and a token from the caller's write bucket),
``auth.metrics`` that of ``/metrics``. A client address that sent ``VIDEOGEN_AUTH_FAIL_LIMIT``
wrong keys within a minute gets 429 for any key until its bucket refills, so keys cannot be
guessed at speed; other clients are not affected. A request without any key is answered 401
and not counted (a dashboard polling before its key is typed must not lock itself out)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from fastapi import Depends, Request

from videogen.http.problems import Problem
from videogen.http.ratelimit import RateLimiter, retry_after
from videogen.settings import Settings


def given_key(request: Request) -> str:
    """The key a request carries (``Authorization: Bearer`` or ``X-API-Key``); never from the
    query string or a cookie."""
    given = request.headers.get("x-api-key", "")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    return given


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


class Auth:
    """The API's key checks (see the module's docstring)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.named = [(name, k.encode()) for name, k in settings.named_api_keys]
        self.keys = [k for _name, k in self.named]
        self.writes = RateLimiter(settings.rate_limit)
        self.failures = RateLimiter(settings.auth_fail_limit)
        self.read: Callable[[Request], str] = self.check  # one callable: FastAPI runs it once a request
        writes, limit, read = self.writes, settings.rate_limit, self.read

        def write(who: str = Depends(read)) -> None:
            """Dependency of the write routes: a key (``read``, run once), and a token from the
            caller's bucket."""
            wait = writes.take(who)
            if wait > 0:
                raise Problem(429, "Too Many Requests", f"at most {limit} write requests a minute",
                              headers={"Retry-After": retry_after(wait)})

        self.write = write

        def caller(request: Request, _who: str = Depends(read)) -> str:
            """Dependency of the editorial routes: the name of the caller's key (``desk``,
            ``key1``…), ``anonymous`` when no keys are configured."""
            return self.name_of(request)

        self.caller = caller

    @property
    def required(self) -> bool:
        return bool(self.keys)

    def valid(self, request: Request) -> bool:
        """True when no keys are configured or the request carries one of them (compared with
        every key in constant time: no early exit to time). Counts nothing."""
        if not self.keys:
            return True
        given = given_key(request).encode()
        ok = False
        for k in self.keys:
            ok |= hmac.compare_digest(k, given)
        return ok

    def name_of(self, request: Request) -> str:
        """The name of the key a request carries (compared with every key in constant time),
        ``anonymous`` without keys configured, ``""`` for no valid key."""
        if not self.keys:
            return "anonymous"
        given = given_key(request).encode()
        found = ""
        for name, k in self.named:
            if hmac.compare_digest(k, given):
                found = found or name
        return found

    def check(self, request: Request) -> str:
        """Raise 429 for an address over its wrong-key limit, 401 for a missing or wrong key;
        return who the caller is (a hash of its key, or its address in no-key mode)."""
        if not self.keys:
            return "addr:" + client_address(request)
        addr = "addr:" + client_address(request)
        if not given_key(request):  # no key at all guesses nothing: 401, not counted
            raise Problem(401, "Unauthorized", "a valid API key is required (Authorization: Bearer <key>)",
                          headers={"WWW-Authenticate": "Bearer"})
        wait = self.failures.wait(addr)
        if wait > 0:  # refused before the key is looked at: a right key must not be learnt here
            raise Problem(429, "Too Many Requests",
                          f"too many wrong API keys from this address (at most {self.settings.auth_fail_limit} a minute)",
                          headers={"Retry-After": retry_after(wait)})
        if not self.valid(request):
            self.failures.take(addr)
            raise Problem(401, "Unauthorized", "a valid API key is required (Authorization: Bearer <key>)",
                          headers={"WWW-Authenticate": "Bearer"})
        return "key:" + hashlib.sha256(given_key(request).encode()).hexdigest()[:16]  # never keep the key itself

    def metrics(self, request: Request) -> None:
        """Dependency of ``/metrics``: a key unless VIDEOGEN_METRICS_PUBLIC=1."""
        if not self.settings.metrics_public:
            self.check(request)
