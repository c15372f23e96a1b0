"""An escalation's outside channels from level 2 (the owners): email to the level's
owner, and the product's Slack channel, Jira project or Linear team when its
configuration names them. Level 1 (automated guidance) stays in the inbox.

Called after the escalation's row is committed, with no lock held. A channel
that fails is logged and left out of the level's `channels`; the inbox item
is always there. A Celery soft time limit striking during a slow channel is
not that channel failing: it goes on up, so the task stops as its limit asks
(the channels not reached yet are logged as not tried).
"""

from __future__ import annotations

import logging
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded

from .models import Escalation

log = logging.getLogger("cairn.products")


def notify(escalation: Escalation, level: int, owner: str) -> list[str]:
    """The channels that took the level. Level 1 is automated guidance: it stays in
    the inbox (written by the caller) and pages nobody, so it goes nowhere else."""
    from integrations.services import resolve_connections

    if level <= 1:
        return []

    product = escalation.product
    options: dict[str, Any] = product.config.get("escalation") or {}
    subject = f"[Cairn L{level}] {escalation.title}"
    body = escalation.guidance if level == 1 and escalation.guidance else escalation.message
    text = f"{subject}\n\n{body}".strip()
    key = f"escalation:{escalation.pk}:{level}"
    sent: list[str] = []

    def attempt(name: str, send) -> None:
        try:
            send()
            sent.append(name)
        except SoftTimeLimitExceeded:
            log.warning(
                "escalation %s L%s: the task's time limit struck during %s; "
                "the channels after it were not tried",
                escalation.pk,
                level,
                name,
            )
            raise
        except Exception:
            log.warning("escalation %s L%s: %s failed", escalation.pk, level, name, exc_info=True)

    if owner and options.get("email", True):
        from integrations.common import default_connection_id
        from integrations.email.client import send_email

        # From the workspace's sender, as an email step that picks none sends.
        default = default_connection_id("smtp")
        sender = resolve_connections(product.workspace_id, [default]).get(default)
        attempt(
            "email",
            lambda: send_email(
                [owner],
                subject,
                body or subject,
                None,
                (sender or {}).get("settings", {}).get("from_email"),
                None,
                key,
                connection=sender,
            ),
        )
    wanted = {
        name: options[name]
        for name in ("slack", "jira", "linear")
        if isinstance(options.get(name), dict) and options[name].get("connection")
    }
    if not wanted:
        return sent
    connections = resolve_connections(
        product.workspace_id, [str(o["connection"]) for o in wanted.values()]
    )
    if "slack" in wanted and (c := connections.get(str(wanted["slack"]["connection"]))):
        from integrations.slack.client import post_message

        attempt("slack", lambda: post_message(c, wanted["slack"].get("channel", ""), text))
    # Filed as action.jira / action.linear would: the route's project or team,
    # else the connection's default; the assignee its `assignees` names for the level.
    for name in ("jira", "linear"):
        route = wanted.get(name)
        if route and (c := connections.get(str(route["connection"]))):
            from integrations.common import file_issue

            attempt(
                name,
                lambda name=name, c=c, route=route: file_issue(
                    name,
                    c,
                    route,
                    level=f"L{level}",
                    title=subject,
                    description=body,
                    labels=("cairn-escalation", f"L{level}"),
                ),
            )
    return sent
