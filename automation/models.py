"""Runtime state: contacts, events, deployed triggers, runs and their steps.

automation/ imports neither builder/ nor integrations/: it reaches workspaces,
workflows and versions through string foreign keys and the graph JSON a
version holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import models
from django.db.models import Q

# Node ids are stored in columns of this length (bindings, runs, steps);
# graph validation refuses longer ones.
NODE_ID_MAX_LENGTH = 100


class Contact(models.Model):
    workspace = models.ForeignKey("builder.Workspace", on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(max_length=254, null=True, blank=True)
    external_id = models.CharField(max_length=200, null=True, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    # A preview's sample contact: a copy no event, segment or list ever reaches.
    is_preview = models.BooleanField(default=False)
    # Counters and times derived from events: last_seen, opens, clicks, events.
    engagement = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # How many events were received for the contact: the next one's `Event.seq`.
    # Written only by whoever holds the contact's row lock (automation/contacts.py).
    event_seq = models.PositiveBigIntegerField(default=0, db_default=0, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "email"],
                condition=Q(email__isnull=False),
                name="one_contact_per_email",
            ),
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=Q(external_id__isnull=False),
                name="one_contact_per_external_id",
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.external_id or f"contact {self.pk}"

    def snapshot(self) -> dict:
        """The contact as nodes, rules and templates see it."""
        return {
            "id": self.pk,
            "email": self.email,
            "external_id": self.external_id,
            "properties": dict(self.properties),
            "tags": list(self.tags),
            "time_zone": self.time_zone,
        }


class Event(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("builder.Workspace", on_delete=models.CASCADE, related_name="+")
    client_id = models.CharField(
        max_length=200, null=True, blank=True, help_text="The sender's id, used to deduplicate."
    )
    type = models.CharField(max_length=200, db_index=True)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="events")
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    # The order the contact's events were received in (1, 2, 3 …): what waits and
    # exit criteria match on (automation/awaited.py), never a sender's clock.
    seq = models.PositiveBigIntegerField(default=0, db_default=0, editable=False)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "client_id"],
                condition=Q(client_id__isnull=False),
                name="one_event_per_client_id",
            )
        ]
        indexes = [
            models.Index(fields=["contact", "type", "occurred_at"]),
            models.Index(fields=["contact", "type", "seq"], name="event_received_order"),
        ]

    def __str__(self) -> str:
        return f"{self.type} ({self.client_id or self.pk})"

    def snapshot(self) -> dict:
        return {
            "id": self.client_id or str(self.pk),
            "type": self.type,
            "data": self.data,
            "occurred_at": self.occurred_at.isoformat(),
        }


class PendingEvent(models.Model):
    """An event accepted by the API and not yet ingested (automation/pending_events.py).

    The queued intake stores the event here, as sent, inside the request and
    answers 202; a Celery task ingests pending events in batches, in the order
    they were stored, and deletes them in the same transaction. An event that
    cannot be ingested (its contact's email now belongs to another external
    id, or ingesting it raises an error no retry mends) keeps its row with
    `error` set.
    """

    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey("builder.Workspace", on_delete=models.CASCADE, related_name="+")
    client_id = models.CharField(max_length=200, null=True, blank=True)
    # {"type", "contact": {...}, "data", "occurred_at"}: the validated event.
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "client_id"],
                condition=Q(client_id__isnull=False),
                name="one_pending_event_per_client_id",
            )
        ]
        indexes = [
            models.Index(fields=["id"], condition=Q(error=""), name="pending_event_todo"),
        ]

    def __str__(self) -> str:
        return f"pending {self.payload.get('type')} ({self.client_id or self.pk})"


class DeploymentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"


class Deployment(models.Model):
    """The runtime's view of a published workflow: which version enrols, and whether it may.

    Written by the builder on publish and on every status change; read by the
    engine so it never needs the builder's models.
    """

    workflow = models.OneToOneField(
        "builder.Workflow", primary_key=True, on_delete=models.CASCADE, related_name="deployment"
    )
    workspace = models.ForeignKey("builder.Workspace", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(
        "builder.WorkflowVersion", on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=20, choices=DeploymentStatus.choices, db_index=True)
    settings = models.JSONField(default=dict, blank=True)
    # settings.exit_when.event, kept in a column so event ingest can index it.
    exit_event = models.CharField(max_length=200, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"deployment of {self.workflow_id} ({self.status})"


class TriggerBinding(models.Model):
    """One trigger node of a deployed version: the index events are matched against."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="triggers")
    workspace = models.ForeignKey("builder.Workspace", on_delete=models.CASCADE, related_name="+")
    node_id = models.CharField(max_length=NODE_ID_MAX_LENGTH)
    trigger_type = models.CharField(max_length=50, db_index=True)
    # The event type for trigger.event/inactivity, the property for
    # trigger.property, the tag for trigger.segment: what lookups key on.
    key = models.CharField(max_length=200, blank=True, db_index=True)
    config = models.JSONField(default=dict)
    next_fire_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # A schedule firing in progress: the segment's contacts up to this id are
    # enrolled; None when no firing is under way (automation/schedules.py).
    fire_after = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "trigger_type", "key"])]

    def __str__(self) -> str:
        return f"{self.trigger_type}:{self.key} → {self.deployment_id}"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXITED = "exited", "Exited"


ACTIVE_RUN_STATUSES = (RunStatus.RUNNING, RunStatus.WAITING)
FINISHED_RUN_STATUSES = (
    RunStatus.COMPLETED,
    RunStatus.FAILED,
    RunStatus.CANCELLED,
    RunStatus.EXITED,
)


# A run's state (its status, and `held`) is written only inside
# `writing_run_state`, which automation/transitions.py opens around each of its
# writes: any other write, by whatever name and in whatever app, raises.
RUN_STATE_FIELDS = frozenset({"status", "held"})
_state_writer: ContextVar[str | None] = ContextVar("run_state_writer", default=None)


class RunStateWriteRefused(Exception):
    """A run's status or `held` was written outside automation/transitions.py."""


@contextmanager
def writing_run_state(transition: str) -> Iterator[None]:
    token = _state_writer.set(transition)
    try:
        yield
    finally:
        _state_writer.reset(token)


def _check_state_write(fields) -> None:
    written = RUN_STATE_FIELDS.intersection(fields)
    if written and _state_writer.get() is None:
        raise RunStateWriteRefused(
            f"{', '.join(sorted(written))} of a run is written only by automation/transitions.py"
        )


class RunQuerySet(models.QuerySet):
    def update(self, **kwargs):
        _check_state_write(kwargs)
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        _check_state_write(fields)
        return super().bulk_update(objs, fields, *args, **kwargs)


class Run(models.Model):
    """One contact's journey through one workflow version.

    `current_node` is where the run is: the node to execute next while
    running, the node it waits at while waiting, the node that failed when
    failed. `current_step` is that node's Step row once it exists (a wait or
    a retry in progress), so a resumed or redelivered run reuses it instead
    of writing a second row for the same visit.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey("builder.Workspace", on_delete=models.CASCADE, related_name="+")
    workflow = models.ForeignKey("builder.Workflow", on_delete=models.CASCADE, related_name="runs")
    # None for a preview, which runs the draft it was started on (`preview["graph"]`).
    version = models.ForeignKey(
        "builder.WorkflowVersion", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="runs")
    # A product-level run (products/): its subject is this product, and `contact`
    # is the product's subject contact, a row no audience ever reaches.
    product = models.ForeignKey(
        "products.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="runs"
    )
    trigger_event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trigger_node = models.CharField(max_length=NODE_ID_MAX_LENGTH)
    # The contact's events up to this `Event.seq` came before the run: its
    # trigger event's, or the contact's count when it was enrolled otherwise.
    events_after = models.PositiveBigIntegerField(default=0, db_default=0)
    status = models.CharField(
        max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING, db_index=True
    )
    current_node = models.CharField(max_length=NODE_ID_MAX_LENGTH, blank=True)
    current_step = models.ForeignKey(
        "Step", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    step_count = models.PositiveIntegerField(default=0)
    # Outputs of executed nodes by node id: what `steps.<id>.*` reads.
    outputs = models.JSONField(default=dict, blank=True)
    # Timers and subscriptions: a waiting run is resumed when resume_at passes
    # or, if waiting_for is set, when a matching event arrives.
    resume_at = models.DateTimeField(null=True, blank=True)
    resume_handle = models.CharField(max_length=50, blank=True)
    resume_payload = models.JSONField(default=dict, blank=True)
    waiting_for = models.CharField(max_length=200, blank=True, db_index=True)
    wait_rules = models.JSONField(default=list, blank=True)
    # Attempts made on the current step before the last manual retry.
    retry_floor = models.PositiveIntegerField(default=0)
    # Waiting because its workflow is paused: out of the timer sweep's index
    # until the workflow is resumed.
    held = models.BooleanField(default=False)
    # A running run is either queued (no lease: its message waits in a queue,
    # however long the queue) or taken (a worker holds it until lease_until and
    # renews that while it works; the reaper re-queues it once it lapses).
    lease_until = models.DateTimeField(null=True, blank=True)
    # When it was last queued: a run still untaken after a later message of
    # its queue was taken lost its message (timers.requeue_lost_messages).
    # None while released (woken by the timer sweep, waiting for room in its
    # queue: dispatch.dispatch_released).
    queued_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    is_preview = models.BooleanField(default=False)
    # A preview's own state (automation/preview.py): the draft graph, the sample
    # event and contact, step-through mode and the tester's choices.
    preview = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["resume_at"],
                condition=Q(status="waiting", held=False),
                name="run_due_timer",
            ),
            models.Index(
                fields=["lease_until"],
                condition=Q(status="running"),
                name="run_lease",
            ),
            models.Index(
                fields=["queued_at"],
                condition=Q(status="running", lease_until__isnull=True),
                name="run_queued",
            ),
            models.Index(
                fields=["resume_at"],
                condition=Q(status="running", lease_until__isnull=True, queued_at__isnull=True),
                name="run_released",
            ),
            models.Index(fields=["contact", "waiting_for"], name="run_subscription"),
            models.Index(fields=["workflow", "contact", "status"], name="run_enrolment"),
            # Runs held by a pause: few, found without reading the waiting ones.
            models.Index(fields=["workflow"], condition=Q(held=True), name="run_held"),
        ]
        # What must hold together (transitions.py is the only writer of these).
        constraints = [
            models.CheckConstraint(
                condition=Q(held=False) | Q(status="waiting"), name="run_held_only_while_waiting"
            ),
            models.CheckConstraint(
                condition=Q(lease_until__isnull=True) | Q(status="running"),
                name="run_leased_only_while_running",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            loaded = getattr(self, "_loaded_state", {})
            fields = kwargs.get("update_fields") or RUN_STATE_FIELDS
            _check_state_write(
                name
                for name in RUN_STATE_FIELDS.intersection(fields)
                if name in loaded and getattr(self, name) != loaded[name]
            )
        super().save(*args, **kwargs)

    @property
    def phase(self) -> str:
        """Where the run is, in one word: its status, and for a run in flight
        what moves it next (the constraints keep these fields consistent)."""
        if self.status == RunStatus.RUNNING:
            if self.lease_until is not None:
                return "taken"  # a worker works on it
            return "queued" if self.queued_at is not None else "released"
        if self.status == RunStatus.WAITING:
            if self.held:
                return "held"  # its workflow is paused
            if self.waiting_for:
                return "waiting_for_event"
            if self.resume_at is not None:
                return "waiting_for_timer"
            return "waiting_for_tester" if self.is_preview else "stranded"
        return self.status

    @classmethod
    def from_db(cls, db, field_names, values):
        run = super().from_db(db, field_names, values)
        run._loaded_state = {name: run.__dict__.get(name) for name in RUN_STATE_FIELDS}
        return run


class StepStatus(models.TextChoices):
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    RETRYING = "retrying", "Retrying"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Step(models.Model):
    """One visit of one node by one run. (run, seq) is unique: a redelivered
    task can never write a second row for the same visit."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    seq = models.PositiveIntegerField()
    node_id = models.CharField(max_length=NODE_ID_MAX_LENGTH)
    node_type = models.CharField(max_length=50)
    status = models.CharField(max_length=20, choices=StepStatus.choices)
    handle = models.CharField(max_length=50, blank=True)
    output = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    attempt = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="one_step_per_visit")]
        indexes = [models.Index(fields=["node_id", "status"])]

    def __str__(self) -> str:
        return f"{self.node_id} #{self.seq} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        return f"{self.run_id}:{self.seq}"


class ConsumedEvent(models.Model):
    """An event a run's wait received: each event is taken once per run, however
    often a loop brings the run back to the same wait (automation/awaited.py)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    node_id = models.CharField(max_length=NODE_ID_MAX_LENGTH)
    consumed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "event"], name="one_taking_per_run_event")
        ]

    def __str__(self) -> str:
        return f"{self.event_id} taken at {self.node_id}"


class InboxItem(models.Model):
    """The internal inbox: notifications and tasks that workflows create for the team."""

    class Kind(models.TextChoices):
        NOTIFICATION = "notification", "Notification"
        TASK = "task", "Task"

    workspace = models.ForeignKey("builder.Workspace", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=100, default="inbox")
    title = models.CharField(max_length=500)
    body = models.TextField(blank=True)
    assignee = models.CharField(max_length=200, blank=True)
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title
