"""Safe outbound HTTP: fetching from the internet (images; webhooks) without becoming a proxy
into the newsroom's network.

Only http(s). The host is resolved once, every address is checked (no loopback, private,
link-local such as 169.254.169.254, multicast, reserved), and the connection goes to the
checked address (DNS cannot change between check and connect). Redirects are followed by
hand, each hop checked the same way. Connect/read timeouts, a byte limit and a content-type
check apply. Hosts on an allow-list given by the caller (from ``VIDEOGEN_IMAGE_HOSTS_ALLOW`` or
``VIDEOGEN_WEBHOOK_HOSTS_ALLOW``) skip the address check, for newsrooms whose servers are
internal (``VIDEOGEN_FETCH_HOSTS_ALLOW`` covers images, article pages and feeds). Errors are ``NetError`` (``TransientNetError`` for what may work later)."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from videogen.errors import NetError, TransientNetError

MAX_REDIRECTS = 3
USER_AGENT = "videogen/0.1 (+https://github.com/videogen)"


def host_set(raw: str) -> frozenset[str]:
    """``"a.example, B.example"`` → {"a.example", "b.example"} (an allow-list setting)."""
    return frozenset(h.strip().lower() for h in raw.split(",") if h.strip())


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the IPv4 address is the last 32 bits
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215 local use: never public
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d


def embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: IPv4-mapped (::ffff:0:0/96), 6to4
    (2002::/16), Teredo (2001::/32: its server and client), NAT64 (64:ff9b::/96) and
    IPv4-compatible (::/96); none for any other address."""
    if addr.ipv4_mapped:
        return [addr.ipv4_mapped]
    if addr.sixtofour:
        return [addr.sixtofour]
    if addr.teredo:
        return list(addr.teredo)
    if addr in _IPV4_COMPATIBLE or addr in _NAT64:
        return [ipaddress.IPv4Address(int(addr) & 0xFFFF_FFFF)]
    return []


def is_public_address(ip: str) -> bool:
    """Whether ``ip`` is an address on the public internet. An IPv6 address that carries an
    IPv4 one (``embedded_ipv4``) is public only if that one is too (an IPv4-mapped address is
    judged by its IPv4 address alone); site-local fec0::/10 and NAT64 local use are not."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.is_site_local or addr in _NAT64_LOCAL:
            return False
        inner = embedded_ipv4(addr)
        if not all(is_public_address(str(v4)) for v4 in inner):
            return False
        if addr.ipv4_mapped:
            return True
    return not (
        addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
        or addr.is_reserved or addr.is_unspecified or not addr.is_global
    )


def resolve_checked(host: str, port: int, allowed: Collection[str]) -> str:
    """One address of ``host`` that may be connected to, or an error naming why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise NetError(f"cannot resolve {host}: {e.strerror}") from None
    addresses = [str(info[4][0]) for info in infos]
    if host.lower() in allowed or f"{host.lower()}:{port}" in allowed:  # host, or host:port
        return addresses[0]
    bad = [a for a in addresses if not is_public_address(a)]
    if bad:
        raise NetError(f"{host} resolves to a non-public address ({bad[0]}); refused")
    return addresses[0]


def check_url(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise NetError(f"only http(s) URLs are fetched, not {parts.scheme or 'a bare path'}")
    if not parts.hostname:
        raise NetError("URL has no host")
    if parts.username or parts.password:
        raise NetError("URLs with credentials are refused")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname, port


def pinned_request(client: httpx.Client, method: str, url: str, allowed: Collection[str], headers: dict[str, str],
                   content: bytes | None = None) -> httpx.Response:
    """Send one request to the checked address of ``url``'s host (no DNS rebinding), with the
    original Host header and TLS name. The response is streamed: close it."""
    _scheme, host, port = check_url(url)
    ip = resolve_checked(host, port, allowed)
    parts = urlsplit(url)
    netloc = f"[{ip}]" if ":" in ip else ip
    pinned = parts._replace(netloc=f"{netloc}:{port}").geturl()
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": USER_AGENT, **headers}
    req = client.build_request(method, pinned, headers=headers, content=content, extensions={"sni_hostname": host})
    return client.send(req, stream=True)


@dataclass(frozen=True)
class Fetched:
    """A fetched resource: ``status`` 200 with its body, or 304 (not modified: no body); the
    URL it came from after redirects, its content type, ``ETag`` and ``Last-Modified``."""

    status: int
    body: bytes
    url: str
    content_type: str
    etag: str | None = None
    last_modified: str | None = None


def fetch_bytes(url: str, *, max_bytes: int, timeout: float, content_types: Collection[str],
                allowed: Collection[str] = (), accept: str = "*/*", what: str = "file") -> bytes:
    """GET ``url`` (redirects followed by hand, each hop checked) and return its body: at most
    ``max_bytes``, one of ``content_types``, within ``timeout`` per step and twice that in all.
    Raises ``NetError``, or ``TransientNetError`` for time-outs, 5xx and 429."""
    return fetch(url, max_bytes=max_bytes, timeout=timeout, content_types=content_types, allowed=allowed,
                 accept=accept, what=what).body


def fetch(url: str, *, max_bytes: int, timeout: float, content_types: Collection[str],
          allowed: Collection[str] = (), accept: str = "*/*", what: str = "file",
          etag: str | None = None, last_modified: str | None = None) -> Fetched:
    """``fetch_bytes`` with the response's metadata, and a conditional GET when ``etag`` or
    ``last_modified`` is given (a 304 answer is returned as such, with no body)."""
    deadline = time.monotonic() + timeout * 2
    http_timeout = httpx.Timeout(timeout, connect=min(5.0, timeout))
    headers = {"Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    for _hop in range(MAX_REDIRECTS + 1):
        host = check_url(url)[1]
        try:
            with httpx.Client(timeout=http_timeout, follow_redirects=False, trust_env=False) as client:
                resp = pinned_request(client, "GET", url, allowed, headers)
                try:
                    if resp.status_code in (301, 302, 303, 307, 308):
                        location = resp.headers.get("location")
                        if not location:
                            raise NetError(f"redirect without a Location from {host}")
                        url = urljoin(url, location)
                        continue
                    if resp.status_code == 304 and (etag or last_modified):
                        return Fetched(304, b"", url, "", resp.headers.get("etag") or etag,
                                       resp.headers.get("last-modified") or last_modified)
                    if resp.status_code >= 500 or resp.status_code == 429:
                        raise TransientNetError(f"{host} answered {resp.status_code}")
                    if resp.status_code != 200:
                        raise NetError(f"{host} answered {resp.status_code}")
                    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                    if ctype not in content_types:
                        raise NetError(f"content type {ctype or 'missing'} is not a{'n' if what[0] in 'aeiou' else ''} {what}")
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise NetError(f"{what} is {declared} bytes; the limit is {max_bytes}")
                    body = bytearray()
                    for chunk in resp.iter_bytes():  # as data arrives: the deadline is checked often
                        body += chunk
                        if len(body) > max_bytes:
                            raise NetError(f"{what} is larger than {max_bytes} bytes")
                        if time.monotonic() > deadline:
                            raise TransientNetError(f"{host} is too slow (over {timeout * 2:.0f} s)")
                    return Fetched(200, bytes(body), url, ctype, resp.headers.get("etag"),
                                   resp.headers.get("last-modified"))
                finally:
                    resp.close()
        except (httpx.TimeoutException, httpx.NetworkError) as e:
            raise TransientNetError(f"{host}: {type(e).__name__}") from None
        except httpx.HTTPError as e:
            raise NetError(f"{host}: {e}") from None
    raise NetError(f"more than {MAX_REDIRECTS} redirects")
