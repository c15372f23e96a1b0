"""The outbound guard: which addresses Cairn may call.

A URL is only as safe as the address its host resolves to, so the check runs
after DNS resolution, on every address the name resolves to, and again on
every redirect. Refused: loopback, private (RFC 1918, unique-local),
link-local (cloud metadata lives there), multicast, carrier-grade NAT,
unspecified and reserved ranges, and IPv6 forms that embed such an IPv4
address. `OUTBOUND_ALLOWLIST` lets an operator open named hosts or networks
for self-hosted targets (an internal CRM, the test servers).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from django.conf import settings

from automation.nodes.base import PermanentNodeError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that mean "the cloud metadata service" even before they resolve.
METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2"}
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)


class OutboundRefused(PermanentNodeError):
    """The destination is not one Cairn calls; nothing was sent."""


@dataclass(frozen=True)
class Destination:
    host: str  # as written in the URL
    port: int
    addresses: tuple[str, ...]  # every address it resolves to, all checked, in resolver order


def _allowlist() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    names: set[str] = set()
    networks = []
    for entry in getattr(settings, "OUTBOUND_ALLOWLIST", []) or []:
        entry = str(entry).strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return names, networks


def _embedded_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo), else itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return ip


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why this address may not be called ("a loopback address", …), or None."""
    ip = _embedded_ipv4(ip)
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, in any form the resolver accepts
    (dotted, decimal "2130706433", hex "0x7f.1", IPv6), or None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.ip_address(socket.inet_aton(host))
    except OSError:
        return None


def _allowed(host: str, ip: IPAddress) -> bool:
    names, networks = _allowlist()
    if host.lower().rstrip(".") in names:
        return True
    return any(ip in network for network in networks if network.version == ip.version)


def resolve(host: str, port: int, *, where: str) -> Destination:
    """Resolve `host` and check every address; raise OutboundRefused naming why."""
    bare = host.strip("[]").lower().rstrip(".")
    names, _networks = _allowlist()
    if bare in METADATA_HOSTS and bare not in names:
        raise OutboundRefused(f"url: {where} is the cloud metadata service; Cairn never calls it")
    literal = literal_address(bare)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            from automation.nodes.base import NodeError

            raise NodeError(f"url: {where}: the name {bare} does not resolve ({error})") from error
        addresses = []
        for info in infos:
            ip = ipaddress.ip_address(info[4][0].split("%")[0])
            if ip not in addresses:
                addresses.append(ip)
    for ip in addresses:
        reason = forbidden_reason(ip)
        if reason and not _allowed(bare, ip):
            shown = f"{bare} resolves to {ip}" if literal is None else f"{ip} is"
            raise OutboundRefused(
                f"url: {where} refused: {shown} {reason}. Cairn does not call private, "
                "loopback, link-local, multicast or metadata addresses unless an operator "
                "lists them in OUTBOUND_ALLOWLIST"
            )
    return Destination(host=bare, port=port, addresses=tuple(str(ip) for ip in addresses))


def static_url_issue(url: str) -> str | None:
    """For config validation (no DNS): a URL whose host is literally a refused address."""
    import httpx

    try:
        parsed = httpx.URL(url.strip())
    except Exception:
        return None
    host = (parsed.host or "").lower().rstrip(".")
    if not host:
        return None
    names, _networks = _allowlist()
    if host in names:
        return None
    if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        return f"{host} is not an address Cairn calls (private, loopback or metadata)"
    literal = literal_address(host)
    if literal is not None:
        reason = forbidden_reason(literal)
        if reason and not _allowed(host, literal):
            return f"{host} is {reason}; Cairn does not call it"
    return None
