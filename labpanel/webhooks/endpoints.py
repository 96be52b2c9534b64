"""Where a webhook may be sent: the SSRF guard, and the POST pinned to the address it checked.

A subscriber names a URL; the installation must not be turned into a client of its own network
(the database, Redis, the cloud's metadata service at 169.254.169.254, a neighbour on the
private LAN). So every address a host resolves to is judged by :mod:`ipaddress`, and a host with
ANY address that is loopback, private (RFC 1918, ``fc00::/7``), link-local (``169.254/16``,
``fe80::/10``), multicast, reserved, unspecified or otherwise not global is refused. Loopback
alone is allowed where ``WEBHOOKS_ALLOW_HTTP_LOOPBACK`` or ``DEBUG`` says so (the tests' local
receiver, a developer's).

The check runs at subscription (``url_check``: 400 naming ``url``) and again at every attempt,
since DNS can change after a subscription was accepted. The attempt connects to the very
address it checked (:func:`post`): ``http.client`` is given the resolved IP for the socket
while the ``Host`` header, the TLS server name (SNI) and the certificate's hostname check stay
the URL's hostname, so there is no second lookup for an attacker's DNS to answer differently.
Redirects are never followed (a redirect is a failed attempt), so a public endpoint cannot
bounce the request inward either.

Resolving has a deadline (``RESOLVE_TIMEOUT_SECONDS``): ``socket.getaddrinfo`` takes none, and a
resolver that does not answer held an attempt (its worker) for the resolver's own retries, up
to half a minute, past the attempt's lease. The lookup runs in a daemon thread; past the
deadline the attempt fails ("does not resolve (TimeoutError)"), is recorded and retried on the
schedule, and the abandoned lookup ends on its own.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from labpanel.exceptions import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
RESOLVE_TIMEOUT_SECONDS = 5.0
_ERROR_LENGTH = 300


class EndpointRefused(Exception):
    """The endpoint's host resolves to an address the installation never sends to (or does not
    resolve at all, at attempt time)."""


def loopback_allowed() -> bool:
    """Development and the tests' receiver: ``DEBUG`` or ``WEBHOOKS_ALLOW_HTTP_LOOPBACK``."""
    return bool(settings.DEBUG or getattr(settings, "WEBHOOKS_ALLOW_HTTP_LOOPBACK", False))


def address_refusal(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why ``address`` is never sent to (``"10.0.0.1 is private"``), or None when it may be.
    An IPv4-mapped IPv6 address (``::ffff:10.0.0.1``) is judged as the IPv4 address it maps."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_refusal(address.ipv4_mapped, allow_loopback=allow_loopback)
    if address.is_loopback:
        return None if allow_loopback else f"{address} is loopback"
    for kind in ("unspecified", "link_local", "multicast", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return f"{address} is {kind.replace('_', '-')}"
    if not address.is_global:  # shared (100.64/10), documentation, and the like
        return f"{address} is not a public address"
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order, without duplicates."""
    found: list[IPAddress] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def _resolve_within(host: str, port: int, timeout: float) -> list[IPAddress]:
    """:func:`_resolve`, or ``TimeoutError`` when the resolver has not answered in ``timeout``
    seconds (the lookup is left to finish in its daemon thread)."""
    found: list[IPAddress] = []
    failures: list[BaseException] = []

    def lookup() -> None:
        try:
            found.extend(_resolve(host, port))
        except BaseException as failure:  # handed to the caller's thread as it is
            failures.append(failure)

    worker = threading.Thread(target=lookup, name="webhook-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if failures:
        raise failures[0]
    return found


def addresses_checked(
    host: str, port: int, *, timeout: float = RESOLVE_TIMEOUT_SECONDS
) -> list[IPAddress]:
    """Resolve ``host`` once (within ``timeout`` seconds) and return its addresses when every
    one may be sent to. Raises ``EndpointRefused`` naming the first forbidden address, or when
    it does not resolve (in time)."""
    try:
        addresses = _resolve_within(host, port, timeout)
    except (OSError, UnicodeError, ValueError) as failure:
        raise EndpointRefused(f"{host} does not resolve ({type(failure).__name__})") from failure
    if not addresses:
        raise EndpointRefused(f"{host} does not resolve")
    allow = loopback_allowed()
    for address in addresses:
        reason = address_refusal(address, allow_loopback=allow)
        if reason is not None:
            raise EndpointRefused(f"{host} resolves to {address}: {reason}"[:_ERROR_LENGTH])
    return addresses


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else (443 if scheme == "https" else 80)


def url_check(url: str) -> None:
    """A subscription's endpoint: ``https://`` (plain ``http://`` only to the loopback, where
    allowed) whose host resolves to no forbidden address. A name that does not resolve yet is
    accepted (every attempt checks again). Raises ``InvalidInput`` naming ``url``."""
    parts = urlsplit(url)
    host = parts.hostname
    plain_loopback = parts.scheme == "http" and host in _LOOPBACK_HOSTS and loopback_allowed()
    if not host or not (parts.scheme == "https" or plain_loopback):
        raise InvalidInput(
            "a webhook endpoint must be an https:// URL", details={"url": ["must be https"]}
        )
    try:
        port = _port(parts.scheme, parts.port)
    except ValueError as error:
        raise InvalidInput("a webhook endpoint's port is invalid", details={"url": ["port"]}) from (
            error
        )
    try:
        addresses_checked(host, port)
    except EndpointRefused as refusal:
        if "does not resolve" in str(refusal):
            return
        raise InvalidInput(
            "a webhook endpoint must not reach the installation's own network",
            details={"url": [str(refusal)]},
        ) from refusal


# --- The pinned POST ----------------------------------------------------------------------------


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to ``host`` whose socket goes to ``address`` (checked), never to a
    fresh lookup of ``host``; the ``Host`` header stays ``host``."""

    def __init__(self, host: str, port: int, *, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._pinned = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._pinned), self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The same for TLS: the socket to ``address``, the server name (SNI) and the certificate
    check against ``host``, with the default (verifying) context."""

    def __init__(
        self, host: str, port: int, *, address: IPAddress, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._pinned = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((str(self._pinned), self.port), self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _connection(
    scheme: str, host: str, port: int, address: IPAddress, timeout: float
) -> http.client.HTTPConnection:
    if scheme == "https":
        return _PinnedHTTPSConnection(
            host, port, address=address, timeout=timeout, context=ssl.create_default_context()
        )
    return _PinnedHTTPConnection(host, port, address=address, timeout=timeout)


def _send(
    connection: http.client.HTTPConnection, target: str, body: bytes, headers: dict[str, str]
) -> int:
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # the answer's body is not kept; read a little to end cleanly
        return int(response.status)
    finally:
        connection.close()


# Addresses tried when the first cannot be reached (each within the timeout: the attempt's
# lease covers two).
_ADDRESSES_TRIED = 2


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    """POST ``body`` to ``url`` once: resolve and check its host (a refusal is an outcome with
    the reason as its error), then connect to a checked address (the next one only when the
    connection itself fails, so a request is never sent twice). A redirect is returned as its
    status, never followed."""
    started = time.monotonic()

    def done(status_code: int | None, error: str = "") -> Outcome:
        duration = int((time.monotonic() - started) * 1000)
        return Outcome(status_code, error[:_ERROR_LENGTH], duration)

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        return done(None, "ValueError: not an http(s) URL")
    try:
        port = _port(parts.scheme, parts.port)
        addresses: Sequence[IPAddress] = addresses_checked(
            host, port, timeout=min(timeout, RESOLVE_TIMEOUT_SECONDS)
        )
    except EndpointRefused as refusal:
        return done(None, f"EndpointRefused: {refusal}")
    except ValueError as malformed:
        return done(None, f"ValueError: {malformed}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    failure: Exception | None = None
    for address in addresses[:_ADDRESSES_TRIED]:
        connection = _connection(parts.scheme, host, port, address, timeout)
        try:
            connection.connect()
        except ssl.SSLError as tls:  # the endpoint answered: a certificate or TLS failure
            connection.close()
            return done(None, f"{type(tls).__name__}: {tls}")
        except OSError as unreachable:  # refused, unreachable, timed out: the next address
            connection.close()
            failure = unreachable
            continue
        try:
            return done(_send(connection, target, body, headers))
        except (OSError, http.client.HTTPException, ValueError) as broken:
            return done(None, f"{type(broken).__name__}: {broken}")
    return done(None, f"{type(failure).__name__}: {failure}")
