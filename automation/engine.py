"""The engine: advance one run, node by node, until it waits, ends or fails.

Every worker, the embedded executor and the tests call `advance_run`. It
works in chunks, each one database transaction that holds the row locks of
the run and its contact (`SELECT … FOR UPDATE`): a second delivery of the same
job waits for the first chunk to commit and then finds the state it committed,
and so never executes a visit twice. A chunk ends after a node with outside effects, so a
crash can only ever repeat the one effect in flight, and that carries an
idempotency key.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from . import live, preview, transitions
from .contacts import change_contact, fire_contacts_triggers, save_contacts
from .dispatch import by_priority, enqueue_runs
from .enrolment import NewRun, enrol_in_workflow
from .graph import Graph, version_graph
from .models import (
    Contact,
    Deployment,
    DeploymentStatus,
    Event,
    InboxItem,
    Run,
    RunStatus,
    Step,
    StepStatus,
)
from .nodes.base import (
    RESUMED_BY_EVENT,
    RESUMED_BY_TIMEOUT,
    NodeContext,
    NodeError,
    NodeResult,
    NodeType,
    PermanentNodeError,
    Wait,
)
from .nodes.registry import get_node_type, resolve_connections
from .quiet_hours import quiet_until
from .reconnect import reconnecting
from .rules import evaluate

log = logging.getLogger("cairn.engine")

NODES_PER_CHUNK = 50


class Outcome(str, Enum):
    CONTINUE = "continue"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    EXITED = "exited"
    HELD = "held"
    CANCELLED = "cancelled"
    NOT_RUNNING = "not_running"
    # Another worker is making this run's outside call right now.
    BUSY = "busy"
    # The chunk committed a running step; the outside call comes next, unlocked.
    CALL = "call"


# Errors that are not the run's fault: the database went away, a deadlock or
# serialization failure, the task ran out of time. The chunk rolled back and
# the run is still `running` at the same node; a redelivery or the reaper
# tries it again. Anything else that escapes a chunk would fail the same way
# every time (a poison run) and fails the run instead.
NOT_THE_RUNS_FAULT: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    SoftTimeLimitExceeded,
)


def advance_run(run_id: Any, *, dry_run: bool = False) -> Outcome:
    """Execute the run until it stops moving; returns why it stopped."""
    nodes_per_chunk = NODES_PER_CHUNK
    calls: list[OutsideCall] = []
    answer: CallAnswer | None = None
    while True:
        try:
            # A cut connection costs a reconnect, not a wait for the reaper;
            # the answer of a call already made is recorded on the new one.
            outcome = reconnecting(
                _chunk_once,
                run_id,
                calls,
                dry_run=dry_run,
                nodes_per_chunk=nodes_per_chunk,
                answer=answer,
            )
        except NOT_THE_RUNS_FAULT:
            raise
        except Exception as error:
            if nodes_per_chunk > 1:
                # Find the visit that breaks: go on one node per chunk, so
                # the nodes before it commit and the failure is pinned on it.
                nodes_per_chunk = 1
                continue
            return _fail_poisoned(run_id, error)
        answer = None
        if outcome is Outcome.CALL:
            # No transaction and no row lock is held here: the running step,
            # its attempt counted, is committed; the answer is recorded by
            # the next chunk only if that step is still the run's open one.
            # The executor renews the run's lease meanwhile (automation/leases.py).
            answer = calls.pop().make()
            continue
        if outcome is not Outcome.CONTINUE:
            return outcome


def _chunk_once(run_id: Any, calls: list[OutsideCall], **options: Any) -> Outcome:
    """One chunk; a try that rolled back leaves no call behind."""
    pending: list[OutsideCall] = []
    outcome = _advance_chunk(run_id, calls=pending, **options)
    calls.extend(pending)
    return outcome


@dataclass
class OutsideCall:
    """A node that reaches outside, ready to run with no lock held."""

    step_id: int
    attempt: int
    implementation: NodeType
    ctx: NodeContext

    def make(self) -> CallAnswer:
        started = timezone.now()
        try:
            return CallAnswer(
                self.step_id, self.attempt, started, self.implementation.run(self.ctx)
            )
        except NOT_THE_RUNS_FAULT:
            raise
        except Exception as error:
            return CallAnswer(self.step_id, self.attempt, started, error=error)


@dataclass
class CallAnswer:
    step_id: int
    attempt: int
    started: Any
    result: NodeResult | None = None
    error: Exception | None = None


def _fail_poisoned(run_id: Any, error: Exception) -> Outcome:
    """Fail a run whose chunk raised a non-transient error, keeping the error on a step.

    The chunk rolled back, so the visit that broke has no row yet unless it
    was a retry or a wait: write (or reuse) it as failed, so the run shows
    where and why, and `retry_run` resumes from it.
    """
    log.exception("run %s: a non-transient error; the run fails", run_id)
    with transaction.atomic():
        run = (
            Run.objects.select_for_update(of=("self",))
            .select_related("current_step")
            .filter(pk=run_id, status=RunStatus.RUNNING)
            .order_by()
            .first()
        )
        if run is None:
            return Outcome.NOT_RUNNING
        now = timezone.now()
        step = run.current_step
        if step is None:
            node = _graph_node(run)
            step = _new_visit(run, run.current_node, str(node.get("type", ""))[:50], now)
        step.status = StepStatus.FAILED
        step.error = f"{type(error).__name__}: {error}"[:5000]
        step.traceback = "".join(traceback.format_exception(error))[-20000:]
        step.finished_at = now
        step.save()
        transitions.fail(run, f"{run.current_node}: {step.error}", step=step)
        transitions.save(run)
    return Outcome.FAILED


def _graph_node(run: Run) -> dict:
    try:
        return dict(version_graph(run.version_id).node(run.current_node) or {})
    except Exception:
        return {}


@dataclass
class _Chunk:
    run: Run
    graph: Graph
    event: dict[str, Any]
    now: Any
    dry_run: bool
    exit_rules: dict[str, Any] | None
    exit_event: str
    # Written together when the chunk ends: one INSERT for the new steps,
    # one UPDATE for the contact.
    new_steps: list[Step] = field(default_factory=list)
    # Every step this chunk wrote or changed, for live watchers.
    touched: list[Step] = field(default_factory=list)
    contact_dirty: bool = False
    # The contact as the chunk found it, to fire property/segment triggers
    # once for the chunk's net change.
    contact_before: tuple[dict, list] = ({}, [])
    nodes_per_chunk: int = NODES_PER_CHUNK
    # The answer of the outside call this chunk records, and where it puts
    # the next call to make once it has committed.
    answer: CallAnswer | None = None
    calls: list[OutsideCall] = field(default_factory=list)
    # Part of advance_together: stop before an outside call, never begin it.
    together: bool = False

    @property
    def contact(self) -> Contact:
        return self.run.contact


def _advance_chunk(
    run_id: Any,
    *,
    dry_run: bool,
    nodes_per_chunk: int = NODES_PER_CHUNK,
    answer: CallAnswer | None = None,
    calls: list[OutsideCall] | None = None,
) -> Outcome:
    with transaction.atomic():
        # The run first, skipping it if it is locked: a second delivery
        # of the same job while another worker holds the run goes away
        # at once instead of queueing behind it (the holder carries on;
        # the lease and the reaper cover a holder that dies).
        run = _lock_runs([run_id]).first()
        if run is None:
            if Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).exists():
                return Outcome.BUSY
            return Outcome.NOT_RUNNING
        # Then its contact, waiting for it: event ingest holds contacts only
        # for the length of a batch, and never waits for a run's lock.
        run.contact = Contact.objects.select_for_update().get(pk=run.contact_id)
        outcome, chunk, changed = _chunk_of_locked_run(
            run,
            dry_run=dry_run,
            nodes_per_chunk=nodes_per_chunk,
            answer=answer,
            calls=calls if calls is not None else [],
        )
        if chunk is not None:
            _write([chunk])
        if changed:
            transitions.save(run)
        if chunk is not None:
            _publish_after_commit(chunk)
        return outcome


def advance_together(run_ids: list[str]) -> dict[str, Outcome]:
    """Advance a message's runs as far as they go without an outside call, in one
    transaction: one lock query for the runs, one for their contacts, one insert
    of all their steps, one update of the contacts and one of the runs, one
    commit, instead of all of those per run.

    Returns the runs that are done for this message (waiting, ended, or no
    longer running). The others (a run another worker holds, one that reached
    an outside call or its chunk's node limit, a second run of one contact,
    previews) go on one by one with `advance_run`, and so do all of them if
    anything here fails: the transaction rolls back and nothing of it stays.
    """
    if len(run_ids) < 2:
        return {}
    try:
        return reconnecting(_advance_together, run_ids)
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        log.warning("advancing %d runs together failed; one by one", len(run_ids), exc_info=True)
        return {}


_DONE_FOR_THE_MESSAGE = {
    Outcome.WAITING,
    Outcome.COMPLETED,
    Outcome.FAILED,
    Outcome.EXITED,
    Outcome.HELD,
    Outcome.CANCELLED,
}


def _advance_together(run_ids: list[str]) -> dict[str, Outcome]:
    with transaction.atomic():
        outcomes = _advance_locked(_lock_with_contacts(run_ids))
    return {run_id: o for run_id, o in outcomes.items() if o in _DONE_FOR_THE_MESSAGE}


def _lock_with_contacts(run_ids: list) -> list[Run]:
    """The running runs among these, and their contacts, locked, in the given order."""
    # In the message's order; runs are taken with SKIP LOCKED (never waited
    # for), contacts in id order (as event ingest takes them), so two
    # messages locking the same contacts cannot deadlock.
    position = {str(run_id): index for index, run_id in enumerate(run_ids)}
    runs = sorted(
        _lock_runs(run_ids).filter(is_preview=False), key=lambda run: position[str(run.pk)]
    )
    contacts = {
        contact.pk: contact
        for contact in Contact.objects.select_for_update()
        .filter(pk__in={run.contact_id for run in runs})
        .order_by("pk")
    }
    for run in runs:
        run.contact = contacts[run.contact_id]
    return runs


def _advance_locked(
    runs: list[Run], deployments: dict | None = None, *, queue_the_rest: bool = False
) -> dict[str, Outcome]:
    """Run a chunk of each of these runs (the caller holds them and their
    contacts locked; one per contact, the others are left out) and write them
    all at once. `queue_the_rest`: the runs not done go to a queue, not on in
    this process, so they hold no lease."""
    outcomes: dict[str, Outcome] = {}
    chunks: list[_Chunk] = []
    changed_runs: list[Run] = []
    seen: set = set()
    stop_at = time.monotonic() + TOGETHER_SECONDS
    for run in runs:
        if time.monotonic() > stop_at:
            break  # slow runs (a template near its budget): the rest go on one by one
        if run.contact_id in seen:
            continue  # one chunk per contact here: a second run goes on its own
        seen.add(run.contact_id)
        outcome, chunk, changed = _chunk_of_locked_run(
            run,
            dry_run=False,
            nodes_per_chunk=NODES_PER_CHUNK,
            answer=None,
            calls=[],
            together=True,
            deployment=deployments.get(run.pk) if deployments else None,
        )
        outcomes[str(run.pk)] = outcome
        if chunk is not None:
            chunks.append(chunk)
        if queue_the_rest and outcome not in _DONE_FOR_THE_MESSAGE:
            run.lease_until = None
            run.queued_at = timezone.now()
        if changed:
            changed_runs.append(run)
    _write(chunks)
    transitions.save_all(changed_runs)
    for chunk in chunks:
        _publish_after_commit(chunk)
    return outcomes


# Runs advanced together take new runs for this long; the others are left
# for one by one (a worker's message, which hands them back after its slice)
# or for the queue (the drain), so a workspace's slow runs never hold a
# worker process or the drain for long.
TOGETHER_SECONDS = 0.5


# Where the event drain starts the runs it enrols itself: the queues whose
# runs may take the drain's time (it runs on the high queue; low-priority
# work never does).
STARTED_BY_THE_DRAIN = ("high", "normal")


def start_enrolled(new_runs: list[NewRun], *, relock: bool = False) -> int:
    """Start runs this transaction has just enrolled, in it: as far as they go
    together without an outside call, as a worker's message would take them,
    but without the message, a second lock of the runs and their contacts, and
    a second commit. The caller holds their contacts locked (event ingest),
    or, with `relock`, they were enrolled by a transaction already committed
    and are locked here again (the event drain, automation/intake.py).

    Runs of low-priority workflows, a second run of one contact, and any run
    with more to do (an outside call, its chunk's node limit) are queued after
    commit as usual; so are all of them if starting them fails: that part
    rolls back alone and the enrolments stand. Returns how many it advanced.
    """
    if not new_runs:
        return 0
    by_id = {str(new.run.pk): new for new in new_runs}
    groups = by_priority(list(by_id))
    started = [
        by_id[run_id] for priority in STARTED_BY_THE_DRAIN for run_id in groups.get(priority, ())
    ]
    outcomes: dict[str, Outcome] = {}
    if started:
        try:
            with transaction.atomic():
                runs = [new.run for new in started]
                outcomes = _advance_locked(
                    _lock_with_contacts([run.pk for run in runs]) if relock else runs,
                    {new.run.pk: new.deployment for new in started},
                    queue_the_rest=True,
                )
        except NOT_THE_RUNS_FAULT:
            raise
        except Exception:
            log.warning("starting %d enrolled runs failed; queued", len(started), exc_info=True)
            outcomes = {}
    enqueue_runs(run_id for run_id in by_id if outcomes.get(run_id) not in _DONE_FOR_THE_MESSAGE)
    return len(outcomes)


def _lock_runs(run_ids: list) -> Any:
    """The running runs among these, locked, skipping any another worker holds."""
    return (
        Run.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("trigger_event", "workflow__deployment", "current_step")
        .only(*_RUN_FIELDS)
        .filter(pk__in=run_ids, status=RunStatus.RUNNING)
        .order_by()
    )


def _chunk_of_locked_run(
    run: Run,
    *,
    dry_run: bool,
    nodes_per_chunk: int,
    answer: CallAnswer | None,
    calls: list[OutsideCall],
    together: bool = False,
    deployment: Deployment | None = None,
) -> tuple[Outcome, _Chunk | None, bool]:
    """Execute a chunk of a run whose row and contact the caller has locked.

    Returns the outcome, the chunk to write (None if no node ran) and whether
    the run changed (the caller saves it). `together`: stop before an
    outside call instead of beginning it (advance_together). `deployment`:
    the run's, when the caller has it at hand.
    """
    open_step = run.current_step
    if answer is not None and not (
        open_step is not None
        and (open_step.pk, open_step.attempt) == (answer.step_id, answer.attempt)
        and open_step.status in (StepStatus.RUNNING, StepStatus.RETRYING)
    ):
        # Compare-and-set: our attempt is no longer the visit's open one
        # (a later attempt began after ours was declared lost).
        log.info("run %s: the answer of a superseded attempt is dropped", run.pk)
        return Outcome.NOT_RUNNING, None, False
    if answer is None and open_step is not None and open_step.status == StepStatus.RUNNING:
        # Another worker is in the middle of this visit's outside call (a
        # duplicate delivery): leave it alone. If that worker died, the
        # reaper declares the attempt lost when the run's lease ends.
        return Outcome.BUSY, None, False
    if not run.is_preview and answer is None:
        if deployment is None:
            deployment = getattr(run.workflow, "deployment", None)
        if deployment is None or deployment.status == DeploymentStatus.ARCHIVED:
            transitions.cancel(run, "the workflow was archived")
            return Outcome.CANCELLED, None, True
        if deployment.status == DeploymentStatus.PAUSED:
            # Hold where it is; resuming the workflow re-queues it.
            transitions.hold(run, paused=True)
            return Outcome.HELD, None, True
    if run.is_preview:
        graph, event = preview.preview_graph(run), preview.event_snapshot(run)
    else:
        graph = version_graph(run.version_id)
        event = run.trigger_event.snapshot() if run.trigger_event else {}
    chunk = _Chunk(
        run=run,
        graph=graph,
        event=event,
        now=timezone.now(),
        dry_run=dry_run or run.is_preview,
        exit_rules=_exit_rules(graph),
        exit_event=deployment.exit_event if deployment else "",
        contact_before=(dict(run.contact.properties), list(run.contact.tags)),
        nodes_per_chunk=nodes_per_chunk,
        answer=answer,
        calls=calls,
        together=together,
    )
    outcome = _execute_nodes(chunk)
    if outcome in (Outcome.CONTINUE, Outcome.CALL):
        run.lease_until = transitions.lease()
    return outcome, chunk, True


def _publish_after_commit(chunk: _Chunk) -> None:
    """Tell watchers (monitoring, preview) what this chunk did, once it is committed."""
    run = chunk.run
    messages = [live.step_message(run, step, output=run.is_preview) for step in chunk.touched]
    if not messages:
        messages = [live.run_message(run)]
    group = live.preview_group(run.pk) if run.is_preview else live.workflow_group(run.workflow_id)
    transaction.on_commit(lambda: live.publisher.publish_many(group, messages))


# Everything of the run and what it joins, except the workflow's draft graph
# (the run reads its frozen version, cached per process, never the draft).
_RUN_FIELDS = (
    *(f.name for f in Run._meta.concrete_fields),
    "trigger_event",
    "workflow__id",
    "workflow__deployment",
    "current_step",
)


def _write(chunks: list[_Chunk]) -> None:
    """Persist what the chunks' nodes did: steps first, then the contacts, each
    in one statement however many chunks."""
    Step.objects.bulk_create(
        [step for chunk in chunks for step in chunk.new_steps if step.pk is None]
    )
    dirty = [chunk for chunk in chunks if chunk.contact_dirty]
    if dirty:
        fire_contacts_triggers([(chunk.contact, *chunk.contact_before) for chunk in dirty])
        save_contacts([chunk.contact for chunk in dirty], ["properties", "tags", "time_zone"])


def _exit_rules(graph: Graph) -> dict[str, Any] | None:
    exit_when = graph.settings.get("exit_when") or {}
    return exit_when if exit_when.get("rules") else None


def _execute_nodes(chunk: _Chunk) -> Outcome:
    run = chunk.run
    # An outside call's answer is recorded first (the effect happened); exit
    # criteria are checked again from the next node on.
    if chunk.answer is None and _exit_event_received(chunk):
        transitions.exit(run)
        return Outcome.EXITED
    for _ in range(chunk.nodes_per_chunk):
        if chunk.answer is None and _exit_rules_met(chunk):
            transitions.exit(run)
            return Outcome.EXITED
        node = chunk.graph.node(run.current_node)
        if node is None:
            transitions.fail(run, f"node {run.current_node!r} is not in the graph")
            return Outcome.FAILED
        node_class = get_node_type(node.get("type", ""))
        if node_class is None:
            transitions.fail(run, f"unknown node type {node.get('type')!r}")
            return Outcome.FAILED
        if run.current_step is None and run.step_count >= settings.RUN_MAX_STEPS:
            transitions.fail(
                run,
                f"stopped after {settings.RUN_MAX_STEPS} steps (RUN_MAX_STEPS): "
                "the workflow loops without end",
            )
            return Outcome.FAILED
        outside = node_class.reaches_outside((node.get("data") or {}).get("config") or {})
        if outside and run.current_step is None and _hold_for_quiet_hours(chunk):
            return Outcome.WAITING
        if outside and not chunk.dry_run and chunk.answer is None:
            if chunk.together:
                return Outcome.CONTINUE  # the call is made by the run's own advance_run
            return _begin_outside_call(chunk, node, node_class)
        if run.is_preview and run.current_step is None and preview.pause_before(run, node["id"]):
            return Outcome.WAITING
        outcome = _visit(chunk, node, node_class)
        if outcome is not Outcome.CONTINUE:
            return outcome
        if outside:
            return Outcome.CONTINUE  # commit now, so the effect is never repeated
    return Outcome.CONTINUE


def _hold_for_quiet_hours(chunk: _Chunk) -> bool:
    """Park the run before its next outside effect if the contact is in quiet hours.

    No step is written: the node has not been visited yet; the sweep wakes
    the run when the quiet hours end and the visit happens then.
    """
    until = quiet_until(
        chunk.graph.settings.get("quiet_hours"), chunk.now, chunk.contact.time_zone or "UTC"
    )
    if until is None or chunk.dry_run:
        return False
    transitions.hold(chunk.run, until=until)
    return True


def _exit_rules_met(chunk: _Chunk) -> bool:
    return bool(chunk.exit_rules) and evaluate(
        chunk.exit_rules.get("match", "all"), chunk.exit_rules["rules"], _scope(chunk)
    )


def _exit_event_received(chunk: _Chunk) -> bool:
    """Event ingest exits waiting runs itself; a running one checks here."""
    return bool(chunk.exit_event) and (
        Event.objects.filter(
            contact_id=chunk.run.contact_id,
            type=chunk.exit_event,
            received_at__gte=chunk.run.created_at,
        ).exists()
    )


def _scope(chunk: _Chunk) -> dict[str, Any]:
    return _context(chunk, "", {}, 1).data


def _context(chunk: _Chunk, node_id: str, config: Any, attempt: int) -> NodeContext:
    run = chunk.run
    contact = chunk.contact
    return NodeContext(
        node_id=node_id,
        config=config,
        contact=preview.contact_snapshot(run, contact) if run.is_preview else contact.snapshot(),
        event=chunk.event,
        steps=run.outputs,
        now=chunk.now,
        run_id=str(run.pk),
        workflow_id=str(run.workflow_id),
        workspace_id=str(run.workspace_id),
        idempotency_key=f"{run.pk}:{_visit_seq(run)}",
        attempt=attempt,
        dry_run=chunk.dry_run,
        engagement=_engagement(contact),
        logger=log,
    )


def _new_visit(run: Run, node_id: str, node_type: str, started_at, **fields) -> Step:
    """The Step row of the run's next visit (not saved yet); the visit is counted."""
    run.step_count += 1
    return Step(
        run=run,
        seq=run.step_count,
        node_id=node_id,
        node_type=node_type,
        started_at=started_at,
        **fields,
    )


def _visit_seq(run: Run) -> int:
    """The seq of the step the current visit writes (or has written)."""
    return run.current_step.seq if run.current_step else run.step_count + 1


def _engagement(contact: Contact) -> dict[str, Any]:
    engagement = dict(contact.engagement)
    engagement["last_seen"] = contact.last_seen_at.isoformat() if contact.last_seen_at else None
    return engagement


def _begin_outside_call(chunk: _Chunk, node: dict, node_class: type[NodeType]) -> Outcome:
    """Commit the visit's step as `running` with this attempt counted; the call comes after.

    A worker killed during the call leaves that step behind: the reaper
    declares the attempt lost when the lease ends, and the attempts left
    decide whether the next delivery calls again or fails the run.
    """
    run = chunk.run
    now = timezone.now()
    step = run.current_step
    if step is None:
        step = _new_visit(run, node["id"], node_class.type, now, attempt=0)
    attempt = step.attempt + 1
    if attempt - run.retry_floor > settings.ACTION_MAX_ATTEMPTS:
        step.status = StepStatus.FAILED
        step.finished_at = now
        step.error = step.error or "the outside call was cut off"
        _record(chunk, step, now=True)
        transitions.fail(
            run, f"{node['id']}: {step.error} (gave up after {step.attempt} attempts)", step=step
        )
        return Outcome.FAILED
    step.attempt = attempt
    step.status = StepStatus.RUNNING
    step.finished_at = None
    _record(chunk, step, now=True)
    run.current_step = step
    config = (node.get("data") or {}).get("config") or {}
    ctx = _context(chunk, node["id"], config, attempt)
    ctx.visit_started_at = step.started_at
    ctx.connections = resolve_connections(run.workspace_id, node_class.connection_ids(config))
    chunk.calls.append(
        OutsideCall(step_id=step.pk, attempt=attempt, implementation=node_class(), ctx=ctx)
    )
    return Outcome.CALL


def _visit(chunk: _Chunk, node: dict, node_class: type[NodeType]) -> Outcome:
    """Execute (or resume) the run's current node and record it as one step."""
    run = chunk.run
    node_id = node["id"]
    config = (node.get("data") or {}).get("config") or {}
    step = run.current_step
    answer, chunk.answer = chunk.answer, None
    if answer is not None:
        # The outside call was made with no lock held; record what it answered.
        if answer.error is not None:
            return _node_failed(
                chunk, node, node_class, step, answer.attempt, answer.error, answer.started
            )
        return _record_result(chunk, node, node_class, step, answer.attempt, answer.result)
    resuming = step is not None and step.status == StepStatus.WAITING
    attempt = step.attempt + 1 if step is not None and not resuming else 1
    if step is not None and resuming:
        attempt = step.attempt
    ctx = _context(chunk, node_id, config, attempt)
    if chunk.dry_run and (wanted := node_class.connection_ids(config)):
        # A preview says what would be sent and as whom: the connections it would use.
        ctx.connections = resolve_connections(run.workspace_id, wanted)
    implementation = node_class()
    started = timezone.now()
    try:
        if resuming:
            # A wait.event whose subscription is still open when resumed timed out.
            handle = run.resume_handle or (RESUMED_BY_TIMEOUT if run.waiting_for else None)
            result = implementation.resume(ctx, handle, run.resume_payload)
        else:
            result = implementation.run(ctx)
            if run.is_preview:
                result = preview.steer(run, node_id, node_class, implementation, ctx, result)
            if result.wait is not None and result.wait.event and not chunk.dry_run:
                # The event may have arrived while the run was busy or queued.
                stored = _stored_event(chunk, result.wait)
                if stored is not None:
                    result = implementation.resume(ctx, RESUMED_BY_EVENT, stored)
    except NOT_THE_RUNS_FAULT:
        raise
    except Exception as error:
        return _node_failed(chunk, node, node_class, step, attempt, error, started)
    return _record_result(chunk, node, node_class, step, attempt, result, started)


def _record_result(
    chunk: _Chunk,
    node: dict,
    node_class: type[NodeType],
    step: Step | None,
    attempt: int,
    result: NodeResult,
    started=None,
) -> Outcome:
    """Write the visit's step for what the node returned and move the run along its edge."""
    run = chunk.run
    node_id = node["id"]
    if step is None:
        step = _new_visit(run, node_id, node_class.type, started)
    step.attempt = attempt
    step.error = ""
    step.traceback = ""
    if result.wait is not None:
        return _park(chunk, step, result)
    step.status = StepStatus.COMPLETED
    step.handle = "" if result.end else result.handle
    step.output = _jsonable(result.output)
    step.finished_at = timezone.now()
    _apply_effects(chunk, step, result)
    run.outputs = {**run.outputs, node_id: step.output}
    run.current_step = None
    run.retry_floor = 0
    run.resume_handle = ""
    run.resume_payload = {}
    run.resume_at = None
    run.waiting_for = ""
    run.wait_rules = []
    next_node = None if result.end else chunk.graph.next_node(node_id, result.handle)
    if next_node is None:
        transitions.complete(run)
        return Outcome.COMPLETED
    run.current_node = next_node
    return Outcome.CONTINUE


def _stored_event(chunk: _Chunk, wait: Wait) -> dict[str, Any] | None:
    """The first stored event that satisfies this wait.event, if one already arrived.

    It counts if it was stored since `wait.event_since` or, by default, since
    the run was enrolled (from its trigger event on, so a later event of the
    same batch counts), is not the trigger event, and was not already
    received by an earlier wait of this run.
    """
    run = chunk.run
    trigger = run.trigger_event
    since = wait.event_since or (trigger.received_at if trigger else run.created_at)
    received = {
        output["event"].get("id")
        for output in run.outputs.values()
        if isinstance(output, dict) and isinstance(output.get("event"), dict)
    }
    candidates = Event.objects.filter(
        contact_id=run.contact_id, type=wait.event, received_at__gte=since
    ).order_by("received_at", "pk")
    if trigger is not None:
        candidates = candidates.exclude(pk=trigger.pk)
    contact = None
    for event in candidates[:EVENT_LOOKBACK_LIMIT]:
        snapshot = event.snapshot()
        if snapshot["id"] in received or str(event.pk) in received:
            continue
        if wait.event_rules:
            contact = contact or chunk.contact.snapshot()
            if not evaluate("all", list(wait.event_rules), {"event": snapshot, "contact": contact}):
                continue
        return snapshot
    return None


# How many stored events of the awaited type a wait.event looks through.
EVENT_LOOKBACK_LIMIT = 500


def _record(chunk: _Chunk, step: Step, *, now: bool = False) -> None:
    """Queue a new step for the chunk's bulk insert, or write it at once.

    A step the run will point at (waiting, retrying, failed) is written now,
    with the steps before it, because `run.current_step` needs its id.
    """
    if step not in chunk.touched:
        chunk.touched.append(step)
    if step.pk is not None:
        step.save()
        return
    chunk.new_steps.append(step)
    if now:
        Step.objects.bulk_create([s for s in chunk.new_steps if s.pk is None])


def _park(chunk: _Chunk, step: Step, result: NodeResult) -> Outcome:
    wait = result.wait
    run = chunk.run
    step.status = StepStatus.WAITING
    step.output = _jsonable({**result.output, "waiting": wait.description})
    _record(chunk, step, now=True)
    transitions.park(
        run,
        step=step,
        resume_at=wait.resume_at,
        waiting_for=wait.event or "",
        wait_rules=wait.event_rules,
    )
    if run.is_preview:
        preview.park(run)
    return Outcome.WAITING


def _apply_effects(chunk: _Chunk, step: Step, result: NodeResult) -> None:
    """Apply what the node asked for and record its step, in this transaction."""
    run = chunk.run
    if chunk.dry_run:
        _record(chunk, step)
        return
    patch = result.contact_patch
    if patch is not None:
        change_contact(
            chunk.contact,
            properties=patch.properties,
            add_tags=patch.add_tags,
            remove_tags=patch.remove_tags,
        )
        chunk.contact_dirty = True
    if result.enroll_workflow:
        enrolled = enrol_in_workflow(result.enroll_workflow, chunk.contact, event=run.trigger_event)
        step.output = {**step.output, "enrolled": enrolled is not None}
    # Inbox items point at their step, so that step is written first.
    _record(chunk, step, now=bool(result.inbox))
    if result.inbox:
        InboxItem.objects.bulk_create(
            InboxItem(
                workspace_id=run.workspace_id,
                kind=item.kind,
                channel=item.channel,
                title=item.title[:500],
                body=item.body,
                assignee=item.assignee,
                run=run,
                step=step,
                contact_id=run.contact_id,
            )
            for item in result.inbox
        )


def _node_failed(
    chunk: _Chunk,
    node: dict,
    node_class: type[NodeType],
    step: Step | None,
    attempt: int,
    error: Exception,
    started,
) -> Outcome:
    run = chunk.run
    if step is None:
        step = _new_visit(run, node["id"], node_class.type, started)
    step.attempt = attempt
    step.error = (
        f"{type(error).__name__}: {error}" if not isinstance(error, NodeError) else str(error)
    )
    step.traceback = "".join(traceback.format_exception(error))[-20000:]
    step.finished_at = timezone.now()
    if isinstance(error, NodeError) and error.output is not None:
        step.output = _jsonable(error.output)  # e.g. the response of a 4xx, kept
    if isinstance(error, NodeError) and not error.counts_as_attempt:
        run.retry_floor += 1  # nothing was sent (circuit open): the wait costs no attempt
    attempts_this_round = attempt - run.retry_floor
    outside = node_class.reaches_outside((node.get("data") or {}).get("config") or {})
    if _retryable(outside, error) and attempts_this_round < settings.ACTION_MAX_ATTEMPTS:
        step.status = StepStatus.RETRYING
        _record(chunk, step, now=True)
        delay = backoff_seconds(max(attempts_this_round, 1))
        retry_after = getattr(error, "retry_after", None)
        if retry_after:  # never before the time the service asked for
            delay = max(delay, min(float(retry_after), settings.ACTION_RETRY_MAX_SECONDS))
        transitions.park(
            run,
            step=step,
            resume_at=timezone.now() + timedelta(seconds=delay),
            error=f"{node['id']}: {step.error} (attempt {attempt}, retrying)",
        )
        log.info("run %s node %s failed, retrying: %s", run.pk, node["id"], step.error)
        return Outcome.WAITING
    step.status = StepStatus.FAILED
    _record(chunk, step, now=True)
    transitions.fail(run, f"{node['id']}: {step.error}", step=step)
    log.warning("run %s failed at %s: %s", run.pk, node["id"], step.error)
    return Outcome.FAILED


def _retryable(outside: bool, error: Exception) -> bool:
    if isinstance(error, PermanentNodeError):
        return False
    if isinstance(error, NodeError):
        return True
    # An unexpected exception in a node that reaches outside may be transient;
    # in a pure node it would fail the same way again.
    return outside


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: half the delay fixed, half random."""
    delay = min(
        settings.ACTION_RETRY_MAX_SECONDS,
        settings.ACTION_RETRY_BASE_SECONDS * 2 ** (attempt - 1),
    )
    return delay / 2 + random.uniform(0, delay / 2)


def _jsonable(value: Any) -> Any:
    """Outputs go into JSON columns; anything JSON cannot hold becomes its text."""
    import json

    text = json.dumps(value, default=str)
    if len(text) > settings.STEP_OUTPUT_MAX_BYTES:
        return {"truncated": True, "preview": text[: settings.STEP_OUTPUT_MAX_BYTES // 2]}
    return json.loads(text)
