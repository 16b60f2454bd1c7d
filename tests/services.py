"""The outside services some tests need, where they are, and whether they are here.

Tests say what they need with a marker (declared in pyproject.toml):

    postgres                 the PostgreSQL server of VIDEOGEN_TEST_PG (default 127.0.0.1:5432)
    redis / redis(url)       a Redis server (default 127.0.0.1:6379; a test file passes the URL
                             it uses, e.g. its VIDEOGEN_TEST_REDIS_* setting)
    browser                  Debian's Chromium at /usr/bin/chromium, driven by Playwright
    multihost                root, ``ip netns`` that works, and redis-server (network namespaces)

conftest.py asks ``missing()`` once per service and address per session before such a test
runs: when the service is not here the test is skipped with the reason, or fails with it when
CI=true (a CI run that quietly skips the service tests proves nothing). scripts/test.sh
installs and starts all of them.

Also here: throwaway PostgreSQL databases on the test server (``fresh_database``)."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

PG_ADMIN = os.environ.get("VIDEOGEN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = "redis://127.0.0.1:6379/0"
CHROMIUM = Path("/usr/bin/chromium")
#: Debian's Chromium as root, headless (shared/NOTES.md), playing without a click.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--autoplay-policy=no-user-gesture-required"]
SERVICES = ("postgres", "redis", "browser", "multihost")
CONNECT_TIMEOUT = 1.0


def in_ci() -> bool:
    """CI=true (as CI systems set it): a missing service fails the test instead of skipping it."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _unreachable(what: str, url: str, default_port: int, hint: str) -> str | None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            return None
    except OSError as e:
        return f"{what} is not reachable at {host}:{port} ({e.strerror or e}); {hint}"


def _netns_unusable() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "`ip` is missing (iproute2; scripts/test.sh installs it)"
    probe = f"vgprobe{os.getpid() % 100000}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return f"`ip netns add` does not work here: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=30)
    if shutil.which("redis-server") is None:
        return "redis-server is missing (the multi-host test runs its own broker on the bridge)"
    return None


@functools.cache
def missing(service: str, url: str | None = None) -> str | None:
    """Why ``service`` (at ``url``, for Redis) cannot be used here, or None when it can.
    Asked once per service and address per session."""
    if service == "postgres":
        reason = _unreachable("PostgreSQL", PG_ADMIN, 5432, "set VIDEOGEN_TEST_PG or run scripts/test.sh (it starts the server)")
    elif service == "redis":
        reason = _unreachable("Redis", url or REDIS_URL, 6379, "run scripts/test.sh (it starts redis-server)")
    elif service == "browser":
        if not CHROMIUM.exists():
            reason = f"{CHROMIUM} is missing (scripts/test.sh installs Debian's chromium)"
        elif importlib.util.find_spec("playwright") is None:
            reason = "Playwright is not installed (the test extra: pip install -e '.[test]')"
        else:
            reason = None
    elif service == "multihost":
        reason = _netns_unusable()
    else:
        raise ValueError(f"unknown service {service!r}")
    return f"needs {service}: {reason}" if reason else None


# --- PostgreSQL -------------------------------------------------------------------------------

@contextmanager
def fresh_database(prefix: str = "videogen_test") -> Iterator[str]:
    """A throwaway database on the test server (VIDEOGEN_TEST_PG), dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"cannot create a database on {PG_ADMIN} ({e}); the test command starts PostgreSQL and lets postgres in")
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
