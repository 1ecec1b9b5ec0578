"""Outbound callbacks: signed JSON POSTs to integration URLs, guarded against SSRF (protocol 3.15).

Slash-command and event-subscription callbacks are URLs chosen by workspace managers, fetched by
the server from inside its network. Unless the deployment allows private targets
(``Config.callbacks_may_target_private``: local development), a callback may only reach public
unicast addresses:

- the host is resolved once; every answer must be public (one private answer refuses them all,
  so a name cannot smuggle an internal address in next to a public one);
- the connection goes to the vetted address itself: the URL's host is replaced by the IP, the
  ``Host`` header and the TLS server name keep the original name (so certificates still verify),
  and nothing resolves the name a second time (no DNS rebinding between check and connect);
- no proxies (the environment's ``HTTP(S)_PROXY`` is ignored), no redirects, a hard deadline of
  :data:`CALLBACK_TIMEOUT` seconds for the whole exchange, and at most
  :data:`MAX_RESPONSE_BYTES` of response body read.

Failures never raise: :func:`post_signed` returns a :class:`CallbackResult` whose ``error`` says
what went wrong, so callers can record it and answer their own client.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
from collections.abc import Mapping
from functools import cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

import attrs
import httpx
import trio

from clickclack_sdk import __version__
from clickclack_sdk.signing import signature_headers

log = logging.getLogger("clickclack_server.callbacks")

CALLBACK_TIMEOUT = 3.0
"""Seconds one callback may take, resolution to last byte. Read at call time (tests lower it)."""

MAX_RESPONSE_BYTES = 64 * 1024
"""Response bodies longer than this are not read further; the callback counts as failed."""

USER_AGENT = f"ClickClack-Callbacks/{__version__}"

IPAddress = IPv4Address | IPv6Address

# IPv4 ranges that are never a public callback target, with the reason reported.
_REFUSED_V4: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    )
)

# IPv6: only global unicast (2000::/3) may be public at all; these parts of it are not.
_GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")
_REFUSED_V6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(network), reason)
    for network, reason in (
        ("2001:db8::/32", "documentation"),
        ("2001::/23", "reserved"),  # IETF protocol assignments: Teredo, ORCHID, benchmarking...
        ("3fff::/20", "documentation"),
    )
)
# Outside 2000::/3, named for clearer errors (everything else there is "reserved").
_NAMED_V6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(network), reason)
    for network, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("fc00::/7", "private"),
        ("ff00::/8", "multicast"),
    )
)
_NAT64_V6 = IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix: embeds an IPv4 address


def address_refusal(address: str | IPAddress) -> str | None:
    """Why ``address`` may not be a callback target (``"loopback"``, ``"private"``, ...), or
    ``None`` when it is a public unicast address.

    IPv6 forms that embed an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
    ``64:ff9b::a.b.c.d``, 6to4 ``2002:AABB:CCDD::``) are judged by the embedded address.
    Text that is not an IP address is refused as ``"not an IP address"``.
    """
    if isinstance(address, str):
        try:
            address = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return "not an IP address"
    if isinstance(address, IPv4Address):
        return _v4_refusal(address)
    plain = IPv6Address(int(address))  # drops any %scope
    embedded = _embedded_v4(plain)
    if embedded is not None:
        reason = _v4_refusal(embedded)
        return None if reason is None else f"{reason} IPv4 address {embedded} embedded in IPv6"
    if plain not in _GLOBAL_UNICAST_V6:
        for network, reason in _NAMED_V6:
            if plain in network:
                return reason
        return "reserved"
    for network, reason in _REFUSED_V6:
        if plain in network:
            return reason
    return None


def is_public_address(address: str | IPAddress) -> bool:
    """Whether ``address`` may be a callback target when private targets are not allowed."""
    return address_refusal(address) is None


def _v4_refusal(address: IPv4Address) -> str | None:
    for network, reason in _REFUSED_V4:
        if address in network:
            return reason
    return None


def _embedded_v4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_V6:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def literal_address(host: str) -> IPAddress | None:
    """The address a resolver reads straight out of ``host`` without DNS, or ``None`` for a name.

    Besides the canonical forms this covers what ``inet_aton`` (and so ``getaddrinfo``) accepts:
    octal ``0177.0.0.1``, hex ``0x7f.1``, short ``127.1`` and integer ``2130706433`` forms.
    """
    text = host.strip().strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if not text or not all(ch in "0123456789abcdefxABCDEFX." for ch in text):
        return None
    try:
        return IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def registration_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why a callback URL is refused when it is registered, or ``None``.

    The same rule as :func:`vetted_addresses` at call time, for what is known without DNS: an
    address written in the URL in any form, and ``localhost`` names, must be public unless the
    deployment allows private targets. Names are judged again, resolved, at every call.
    """
    if allow_private:
        return None
    host = (urlsplit(url.strip()).hostname or "").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return f"callback_url host {host} is not public (loopback)"
    address = literal_address(host)
    if address is None:
        return None
    reason = address_refusal(address)
    if reason is None:
        return None
    return f"callback_url host {host} is not public ({reason})"


class CallbackRefused(Exception):
    """The callback's host resolves to an address the server may not connect to."""


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to for TCP, de-duplicated, in resolver order."""
    infos = await trio.socket.getaddrinfo(host, port, type=trio.socket.SOCK_STREAM)
    found: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in found:
            found.append(address)
    return found


async def vetted_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Resolve ``host`` and check every answer; raises :class:`CallbackRefused` if any is not
    public (unless ``allow_private``) or nothing usable came back."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await resolve_host(host, port)
        except OSError as exc:
            raise CallbackRefused(f"callback host {host} could not be resolved: {exc}") from None
    if not addresses:
        raise CallbackRefused(f"callback host {host} did not resolve to any address")
    if not allow_private:
        for address in addresses:
            reason = address_refusal(address)
            if reason is not None:
                raise CallbackRefused(
                    f"callback address {address} of {host} is not public ({reason})"
                )
    return addresses


@attrs.frozen(kw_only=True)
class CallbackResult:
    """What became of one callback: the HTTP status (0 when there was no response), the body
    read (at most :data:`MAX_RESPONSE_BYTES`), and an error text (``""`` on a 2xx answer)."""

    status: int = 0
    body: bytes = b""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for all callbacks (loading the CA bundle is slow)."""
    return httpx.create_ssl_context()


def _target(url: httpx.URL, address: str) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """The URL rewritten to ``address`` plus the Host header and TLS name of the original."""
    host = url.raw_host.decode("ascii")
    headers = {"Host": url.netloc.decode("ascii")}
    extensions: dict[str, str] = {}
    if url.scheme == "https":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            extensions["sni_hostname"] = host
    return url.copy_with(host=address), headers, extensions


async def _exchange(
    client: httpx.AsyncClient,
    url: httpx.URL,
    addresses: list[str],
    body: bytes,
    headers: dict[str, str],
) -> CallbackResult:
    last_error = "no address to connect to"
    for address in addresses:
        target, host_header, extensions = _target(url, address)
        try:
            async with client.stream(
                "POST",
                target,
                content=body,
                headers={**headers, **host_header},
                extensions=extensions,
            ) as response:
                received = bytearray()
                async for chunk in response.aiter_raw():
                    received += chunk
                    if len(received) > MAX_RESPONSE_BYTES:
                        return CallbackResult(
                            status=response.status_code,
                            body=bytes(received[:MAX_RESPONSE_BYTES]),
                            error=f"callback response exceeds {MAX_RESPONSE_BYTES} bytes",
                        )
                status = response.status_code
                if 200 <= status < 300:
                    return CallbackResult(status=status, body=bytes(received))
                error = f"callback returned HTTP {status}"
                if 300 <= status < 400:
                    error += " (redirects are not followed)"
                return CallbackResult(status=status, body=bytes(received), error=error)
        except httpx.ConnectError as exc:
            # Nothing was sent: the next vetted address may still answer.
            last_error = f"callback connection to {address} failed: {exc or type(exc).__name__}"
        except httpx.HTTPError as exc:
            return CallbackResult(error=f"callback request failed: {exc or type(exc).__name__}")
    return CallbackResult(error=last_error)


async def post_signed(
    url: str,
    body: bytes,
    *,
    secret: str,
    allow_private: bool,
    headers: Mapping[str, str] | None = None,
) -> CallbackResult:
    """POST ``body`` (JSON) to ``url`` signed with ``secret``, under the transport rules above.

    Never raises for network or policy failures; cancellation still propagates.
    """
    timeout = CALLBACK_TIMEOUT
    request_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
        "Accept-Encoding": "identity",
        **signature_headers(secret, body),
        **(headers or {}),
    }
    result = CallbackResult(error=f"callback timed out after {timeout:g}s")
    with trio.move_on_after(timeout):
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            return CallbackResult(error=f"callback URL is invalid: {exc}")
        if parsed.scheme not in ("http", "https") or not parsed.raw_host:
            return CallbackResult(error="callback URL must be an http or https URL")
        host = parsed.raw_host.decode("ascii")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addresses = await vetted_addresses(host, port, allow_private=allow_private)
        except CallbackRefused as exc:
            log.warning("refused callback to %s: %s", url, exc)
            return CallbackResult(error=str(exc))
        async with httpx.AsyncClient(
            trust_env=False,
            follow_redirects=False,
            verify=_tls_context(),
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=0),
        ) as client:
            result = await _exchange(client, parsed, addresses, body, request_headers)
    return result
