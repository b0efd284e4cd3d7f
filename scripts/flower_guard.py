"""What `docqueue flower` checks before Flower starts: who may reach it, and with what password.

Flower 2.x serves `/metrics` without authentication even when `--basic-auth` is set
(mher/flower#1342): its handler lacks `tornado.web.authenticated`. `protect_metrics`
adds it, so the scrape needs the same credentials as the UI and the API.
"""

from __future__ import annotations

import ipaddress
import socket

from schemas.config import Settings

DEFAULT_BASIC_AUTH: str = Settings.model_fields["flower_basic_auth"].default


def is_loopback(address: str) -> bool:
    """True when binding `address` reaches this machine only ('' means every interface)."""
    host = address.strip().strip("[]")
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:  # a host name: loopback only if every address it resolves to is
        found = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(found) and all(ipaddress.ip_address(ip.split("%")[0]).is_loopback for ip in found)


def refusal(*, address: str, basic_auth: str) -> str | None:
    """Why Flower must not start with these settings (one line), or None when it may."""
    pairs = [pair.strip() for pair in basic_auth.split(",")]
    if not basic_auth.strip() or any(":" not in pair for pair in pairs):
        return "FLOWER_BASIC_AUTH must be user:password (comma-separated for several users)"
    if is_loopback(address):
        return None
    weak = [p for p in pairs if p == DEFAULT_BASIC_AUTH or not p.partition(":")[2]]
    if weak:
        return (
            f"refusing to serve Flower on {address or 'every interface'} with "
            f"{'the default' if weak[0] == DEFAULT_BASIC_AUTH else 'an empty'} password: "
            "set FLOWER_BASIC_AUTH=user:password, or bind --address 127.0.0.1"
        )
    return None


def protect_metrics() -> None:
    """Make Flower's `/metrics` demand the configured auth, as its other pages do."""
    from flower.views.monitor import Metrics
    from tornado.web import authenticated

    if not getattr(Metrics.get, "_docqueue_protected", False):
        protected = authenticated(Metrics.get)
        protected._docqueue_protected = True  # type: ignore[attr-defined]
        Metrics.get = protected
