"""SSRF guard for outbound webhooks: only http(s) to public addresses, pinned after the check.

The host is resolved once and the request goes to the address that passed the check (Host
header and TLS SNI keep the name), so a DNS answer that changes between check and connect
(rebinding) cannot point the POST at an internal service.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from tasks.errors import TaskError

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(TaskError):
    """The URL may not receive webhooks; the message says why (never retryable)."""


class Unresolvable(UrlRefused):
    """The host did not resolve (may be transient: delivery retries it)."""

    retryable = True


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect, and the name to present."""

    url: str  # the original URL
    connect_url: str  # the same URL with the host replaced by the checked address
    host: str  # the name for the Host header and TLS SNI
    host_header: str
    address: str


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for host:port."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# NAT64 translators (RFC 6052 well-known prefix, RFC 8215 local use) carry an IPv4
# address in the low 32 bits: what they hide is what they would dial.
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")


def hidden_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 transition form wraps: mapped, 6to4, Teredo, NAT64."""
    hidden = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo is not None:
        hidden.extend(ip.teredo)  # (server, client); the client is stored inverted
    if ip in NAT64_WELL_KNOWN:
        hidden.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return hidden


def refusal(ip: IPAddress) -> str | None:
    """Why `ip` is not a public unicast address, or None if it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL_USE:
            return "nat64-local"  # the IPv4 position depends on the operator's prefix
        for inner in hidden_ipv4(ip):
            why = refusal(inner)
            if why is not None:
                return why
    for name in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    if not ip.is_global:  # e.g. 100.64.0.0/10 (carrier-grade NAT), documentation ranges
        return "non-global"
    return None


def check_url(
    url: str, *, allow_private: bool = False, resolver: Resolver = system_resolver
) -> Target:
    """Validate `url` and resolve its host; raise UrlRefused when it may not be called."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UrlRefused(f"malformed URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("only http and https URLs are allowed")
    host = parts.hostname
    if not host:
        raise UrlRefused("the URL has no host")
    if parts.username or parts.password:
        raise UrlRefused("credentials in the URL are not allowed")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolver(host, port)]
        except (OSError, UnicodeError) as exc:
            raise Unresolvable(f"host {host!r} does not resolve") from exc
    if not addresses:
        raise Unresolvable(f"host {host!r} does not resolve")
    if not allow_private:
        for ip in addresses:
            why = refusal(ip)
            if why is not None:
                raise UrlRefused(f"host {host!r} resolves to a {why} address ({ip})")
    chosen = addresses[0]
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    connect_url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rpartition("@")[2]
    return Target(url, connect_url, host, host_header, str(chosen))
