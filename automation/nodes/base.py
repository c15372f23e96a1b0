"""The node contract: one class per node type, everything about it in one place.

A node type declares its key (the DESIGN.md name, never renamed), how it looks
in the catalogue, its config JSON Schema, its output handles and `run()`.
Node code is pure: it reads a `NodeContext` and returns a `NodeResult`. It
never touches the ORM; the engine persists what the result asks for, inside
the same transaction as the step, so a crash never leaves half a step.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from jsonschema import Draft202012Validator

# What the runtime stores from a config ends in bounded columns (automation/models.py):
# an event type name in Event.type, Run.waiting_for, Deployment.exit_event and
# TriggerBinding.key (200); a tag in the contact's tags (100, the tag actions'
# limit). The config schemas carry these as maxLength so the catalogue shows them
# and validation refuses a longer name before publish, instead of a publish that
# fails in the database or runs that fail at the wait
# (tests/builder/test_validation__limits.py ties them to the columns).
EVENT_TYPE_MAX_LENGTH = 200
TAG_MAX_LENGTH = 100
PROPERTY_NAME_MAX_LENGTH = 100
# A connection's id in a config: a database id, digits only.
CONNECTION_ID_MAX_LENGTH = 18


@dataclass(frozen=True)
class ConfigIssue:
    """One problem with a node's config; `field` is a dotted path inside config."""

    field: str
    message: str
    code: str = "invalid"


@dataclass(frozen=True)
class Wait:
    """Ask the engine to park the run.

    `resume_at` is when the wait ends on its own (a delay, or a wait.event
    timeout). `event` subscribes the run to an event type; `event_rules`
    filter which events of that type count. A matching event stored before
    the run got here counts too: one stored since `event_since`, or, when
    that is None, since the run was enrolled (its trigger event excluded).
    """

    resume_at: datetime | None = None
    event: str | None = None
    event_rules: tuple[Mapping[str, Any], ...] = ()
    event_since: datetime | None = None
    description: str = ""


@dataclass(frozen=True)
class ContactPatch:
    """Changes to the run's contact, applied by the engine in the step's transaction."""

    properties: Mapping[str, Any] = field(default_factory=dict)
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class InboxItemSpec:
    """An item for the workspace's internal inbox (a notification or a task)."""

    kind: str  # "notification" | "task"
    title: str
    body: str = ""
    assignee: str = ""
    channel: str = "inbox"


@dataclass(frozen=True)
class NodeResult:
    """What a node did and where the run goes next.

    `handle` picks the outgoing edge. `wait` parks the run instead of moving
    on. `end` stops the run as completed. The other fields are effects the
    engine applies atomically with the step row.
    """

    output: Mapping[str, Any] = field(default_factory=dict)
    handle: str = "out"
    wait: Wait | None = None
    end: bool = False
    contact_patch: ContactPatch | None = None
    inbox: tuple[InboxItemSpec, ...] = ()
    enroll_workflow: str | None = None


# Why a wait with an event subscription ended, as the engine tells the node's
# resume(): the event arrived, or the subscription timed out. The node maps
# these reasons to its own handles; the engine knows no node's handles.
RESUMED_BY_EVENT = "received"  # the value stored on runs already waiting: never change it
RESUMED_BY_TIMEOUT = "timeout"


# The key under which a step output keeps what an outside system answered
# (status, redacted body, content type): private to editors and up.
OUTSIDE_ANSWER = "response"


class NodeError(Exception):
    """A node failed in a way worth retrying (network down, 5xx, SMTP refused).

    `retry_after`: seconds the other side asked us to wait (HTTP Retry-After);
    the retry is not made before. `output`: what the step keeps of the failed
    attempt (e.g. the response of a 4xx). A subclass with `counts_as_attempt
    = False` means nothing was sent (a circuit breaker is open): the run
    waits `retry_after` without using up an attempt.
    """

    counts_as_attempt = True

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float | None = None,
        output: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.output = output


class PermanentNodeError(NodeError):
    """A node failed in a way a retry cannot fix (4xx, bad rendered address)."""


@dataclass
class NodeContext:
    """Everything a node may read. Built by the engine; built by hand in unit tests.

    `data` is the rule/template scope: `contact`, `event`, `steps`,
    `engagement`, `now`. `dry_run` is the preview effect policy: an action
    reports what it would do instead of doing it. `idempotency_key` is stable
    across retries and redeliveries of one visit of one node; outside
    effects carry it.
    """

    node_id: str
    config: Mapping[str, Any]
    contact: Mapping[str, Any]
    event: Mapping[str, Any]
    steps: Mapping[str, Any]
    now: datetime
    run_id: str = ""
    workflow_id: str = ""
    workspace_id: str = ""
    idempotency_key: str = ""
    attempt: int = 1
    # When this visit's first attempt began (its step's started_at), the same on
    # every retry, where `now` is this attempt's time; None before the visit's
    # step exists (a node without outside effects on its first attempt).
    visit_started_at: datetime | None = None
    dry_run: bool = False
    engagement: Mapping[str, Any] = field(default_factory=dict)
    # Stored credentials the config names (fields marked "x-widget": "connection"),
    # decrypted, by connection id: {"id", "provider", "name", "settings", "secrets"}.
    connections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("cairn.nodes"))

    @property
    def data(self) -> dict[str, Any]:
        from automation.rules import now_scope

        return {
            "contact": self.contact,
            "event": self.event,
            "steps": self.steps,
            "engagement": self.engagement,
            "now": now_scope(self.now, self.contact.get("time_zone") or "UTC"),
        }


class NodeType:
    """Base class of every node type. Subclass, fill the class attributes, write run()."""

    type: ClassVar[str]
    version: ClassVar[int] = 1
    label: ClassVar[str]
    category: ClassVar[str]
    description: ClassVar[str] = ""
    handles: ClassVar[tuple[str, ...]] = ("out",)
    # For nodes whose handles come from config (switch cases, split branches):
    # where in config the canvas finds them, e.g. "branches[].handle".
    handles_from: ClassVar[str | None] = None
    # Handles a node has whatever its config says (switch's "default"); with
    # handles_from, the canvas shows the config's handles followed by these.
    fixed_handles: ClassVar[tuple[str, ...]] = ()
    # Handles that must be connected or explicitly left open on the canvas
    # (listed in node.data.open_handles). A single "out" may end the run.
    branching: ClassVar[bool] = False
    # True for nodes whose run() reaches outside (email, HTTP): the engine
    # commits right after them so a crash never repeats the effect twice.
    has_side_effects: ClassVar[bool] = False
    config_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    # The one-line summary the canvas shows on the node, e.g. "Wait {:duration}".
    # `{field}` or `{field:format}` reads config (formats: duration, rules, list,
    # keys, enum, handles, split; `{a|b}` takes the first that is set); a part in
    # [brackets] is dropped when a field in it is empty. Empty: the label alone.
    summary: ClassVar[str] = ""
    # Keys of the step output, besides `response`, that hold what an outside
    # system answered (action.webhook's `body`); see private_output_keys().
    private_output: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------ catalogue
    @classmethod
    def reaches_outside(cls, config: Mapping[str, Any]) -> bool:
        """Whether run() with this config calls outside Cairn.

        Most nodes always do or never do (`has_side_effects`); a node that
        can post to the inbox or to Slack decides by its config.
        """
        return cls.has_side_effects

    @classmethod
    def private_output_keys(cls, config: Mapping[str, Any] | None) -> tuple[str, ...]:
        """Keys of a step output that only roles allowed to read outside answers see.

        One rule for every node type: a visit that reaches outside (with this
        config, `reaches_outside`) keeps what the other system answered under
        `response` (bounded and redacted, on success and on failure), plus the
        node's own `private_output`. `None`: the config is not known, so
        everything the node could hide is hidden.
        """
        if config is not None and not cls.reaches_outside(config):
            return ()
        return (OUTSIDE_ANSWER, *cls.private_output)

    @classmethod
    def output_handles(cls, config: Mapping[str, Any]) -> list[str]:
        """The handles for this config; switch and split derive theirs from config."""
        return list(cls.handles)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "type": cls.type,
            "version": cls.version,
            "label": cls.label,
            "category": cls.category,
            "description": cls.description,
            "handles": list(cls.handles),
            "handles_from": cls.handles_from,
            "fixed_handles": list(cls.fixed_handles),
            "branching": cls.branching,
            "config_schema": cls.config_schema,
            "summary": cls.summary,
        }

    @classmethod
    def connection_ids(cls, config: Mapping[str, Any]) -> list[str]:
        """Connection ids the config names: the values of its `x-widget: connection` fields."""
        properties = cls.config_schema.get("properties", {})
        return [
            str(config[name])
            for name, schema in properties.items()
            if isinstance(schema, dict)
            and schema.get("x-widget") == "connection"
            and config.get(name) not in (None, "")
        ]

    # ------------------------------------------------------------ validation
    @classmethod
    def validate_config(cls, config: Any) -> list[ConfigIssue]:
        """Schema errors first; semantic checks (check_config) only on a valid shape."""
        validator = Draft202012Validator(cls.config_schema)
        issues = [
            ConfigIssue(
                field=".".join(str(part) for part in error.absolute_path) or "(config)",
                message=error.message,
                code=f"schema.{error.validator}",
            )
            for error in sorted(validator.iter_errors(config), key=lambda e: list(e.path))
        ]
        if issues:
            return issues
        from automation.rules import duration_issues

        too_long = [ConfigIssue(f, m, "duration.max") for f, m in duration_issues(config)]
        return too_long + list(cls.check_config(config))

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        """Checks JSON Schema cannot express (percentages sum to 100, template syntax)."""
        return []

    # ------------------------------------------------------------ runtime
    def run(self, ctx: NodeContext) -> NodeResult:
        raise NotImplementedError

    def resume(
        self, ctx: NodeContext, handle: str | None, payload: Mapping[str, Any]
    ) -> NodeResult:
        """Called when a wait this node asked for ends. `handle` is the engine's
        reason: None for a timer, RESUMED_BY_EVENT or RESUMED_BY_TIMEOUT for a
        wait that subscribed to an event."""
        return NodeResult(output=dict(payload), handle=handle or "out")
