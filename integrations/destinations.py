"""Where a connection's credentials may be sent: the hosts it is for.

A connection is made by a workspace admin; a workflow that uses it can be
built and published by anyone with the publisher role. Without this rule a
publisher could point an `action.webhook` with a stored connection at a
server of their own and receive its token (or a Standard Webhooks signature
of any body they like). So a connection's credentials go only to its
**origins**: scheme, host and port, exactly as a browser compares origins
(`https://api.example.com` is not `http://api.example.com`, not
`https://api.example.com:8443` and not `https://eu.api.example.com`; the
path does not matter).

- Provider connections (Slack, Jira, GitHub, Linear, Mixpanel, SMS) are for
  their API base URL (the one set on the connection, else the provider's).
- `http` connections list the sites they may be sent to in `hosts`
  ("Sent only to"); an `http` connection without any is sent nowhere.

It is enforced twice: graph validation (`connection_sites.graph_issues`,
called by builder/validation.py) refuses a webhook step whose URL is fixed and
elsewhere, and the guarded HTTP client (`http.client.request`,
`credentials_for`) refuses, before anything is sent, a request carrying a
connection's credentials to any other origin. A URL whose host is a
template can only be judged at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import httpx

DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        """How people read it: `api.example.com` for https on 443, else the full origin."""
        if self.scheme == "https" and self.port == 443:
            return self.host
        if self.port == DEFAULT_PORTS.get(self.scheme):
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


def origin_of(url: str) -> Origin | None:
    """The origin of an http(s) URL; a bare host name means https. None if it has none."""
    text = str(url).strip()
    if "://" not in text:
        text = f"https://{text}"
    try:
        parsed = httpx.URL(text)
    except Exception:
        return None
    if parsed.scheme not in DEFAULT_PORTS or not parsed.host:
        return None
    host = parsed.host.rstrip(".").lower()  # api.example.com. is api.example.com
    return Origin(parsed.scheme, host, parsed.port or DEFAULT_PORTS[parsed.scheme])


def names(origins: Iterable[Origin]) -> str:
    """'a', 'a or b', 'a, b or c' for a message."""
    shown = [str(origin) for origin in origins]
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def refusal(origins: list[Origin]) -> str:
    """What someone building the workflow reads when a URL is not one of `origins`."""
    if not origins:
        return (
            "This connection does not say which sites it may be sent to. Ask an admin to "
            "add them to the connection (Sent only to)."
        )
    return f"This connection may only be used with {names(origins)}."


def allowed(origins: Iterable[Origin], url: str) -> bool:
    found = origin_of(url) if "://" in str(url) else None
    return found is not None and found in set(origins)


def static_host(url: str) -> bool:
    """True when no template can change the URL's scheme, host or port.

    Everything up to the first "/" after "//" is the origin; a "{" in it
    (a `{{ … }}` or `{% … %}`) means only the rendered URL can tell.
    """
    text = str(url).strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        return "{" not in text
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return "{" not in scheme and "{" not in authority


# ---------------------------------------------------------------- validation


# ---------------------------------------------------------------- connection settings


def settings_issues(provider: str, options: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems with an `http` connection's `hosts` and its test URL, for its form."""
    if provider != "http":
        return []
    issues = []
    hosts = options.get("hosts")
    if isinstance(hosts, list):
        for index, host in enumerate(hosts):
            if isinstance(host, str) and origin_of(host) is None:
                issues.append(
                    (
                        f"settings.hosts.{index}",
                        f"{host!r} is not a site: write e.g. https://api.example.com",
                    )
                )
    test_url = options.get("test_url")
    if isinstance(test_url, str) and isinstance(hosts, list) and test_url:
        origins = [o for o in (origin_of(h) for h in hosts if isinstance(h, str)) if o]
        if origins and not allowed(origins, test_url):
            issues.append(
                ("settings.test_url", f"the test URL must be on {names(origins)} (Sent only to)")
            )
    return issues
