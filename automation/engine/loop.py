"""The run loop: advance one run, node by node, until it waits, ends or fails.

Every worker, the embedded executor and the tests call `advance_run`. It
works in chunks, each one database transaction that holds the row locks of
the run and its contact (`SELECT … FOR UPDATE`): a second delivery of the same
job waits for the first chunk to commit and then finds the state it committed,
and so never executes a visit twice. A chunk ends after a node with outside effects, so a
crash can only ever repeat the one effect in flight, and that carries an
idempotency key.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import preview, template_budget, transitions
from ..contacts import change_contact
from ..enrolment import enrol_in_workflow
from ..graph import version_graph
from ..models import (
    Contact,
    Deployment,
    DeploymentStatus,
    InboxItem,
    Run,
    RunStatus,
    Step,
    StepStatus,
)
from ..nodes.base import (
    RESUMED_BY_EVENT,
    RESUMED_BY_TIMEOUT,
    NodeResult,
    NodeType,
)
from ..nodes.registry import get_node_type, resolve_connections
from ..reconnect import reconnecting
from .calls import CallAnswer, OutsideCall
from .chunk import Chunk, context, exit_rules_of
from .failures import fail_poisoned, node_failed
from .outcome import NODES_PER_CHUNK, NOT_THE_RUNS_FAULT, Outcome, log
from .records import jsonable, new_visit, publish_after_commit, record, write_chunks
from .waits import (
    exit_event_received,
    exit_rules_met,
    hold_for_quiet_hours,
    park_at_wait,
    stored_event,
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
            return fail_poisoned(run_id, error)
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
        run = lock_runs([run_id]).first()
        if run is None:
            if Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).exists():
                return Outcome.BUSY
            return Outcome.NOT_RUNNING
        # Then its contact, waiting for it: event ingest holds contacts only
        # for the length of a batch, and never waits for a run's lock.
        run.contact = Contact.objects.select_for_update().get(pk=run.contact_id)
        outcome, chunk, changed = chunk_of_locked_run(
            run,
            dry_run=dry_run,
            nodes_per_chunk=nodes_per_chunk,
            answer=answer,
            calls=calls if calls is not None else [],
        )
        if chunk is not None:
            write_chunks([chunk])
        if changed:
            transitions.save(run)
        if chunk is not None:
            publish_after_commit(chunk)
        return outcome


def lock_runs(run_ids: list) -> Any:
    """The running runs among these, locked, skipping any another worker holds."""
    return (
        Run.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("trigger_event", "workflow__deployment", "current_step")
        .only(*_RUN_FIELDS)
        .filter(pk__in=run_ids, status=RunStatus.RUNNING)
        .order_by()
    )


def chunk_of_locked_run(
    run: Run,
    *,
    dry_run: bool,
    nodes_per_chunk: int,
    answer: CallAnswer | None,
    calls: list[OutsideCall],
    together: bool = False,
    deployment: Deployment | None = None,
) -> tuple[Outcome, Chunk | None, bool]:
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
    chunk = Chunk(
        run=run,
        graph=graph,
        event=event,
        now=timezone.now(),
        dry_run=dry_run or run.is_preview,
        exit_rules=exit_rules_of(graph),
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


# Everything of the run and what it joins, except the workflow's draft graph
# (the run reads its frozen version, cached per process, never the draft).
_RUN_FIELDS = (
    *(f.name for f in Run._meta.concrete_fields),
    "trigger_event",
    "workflow__id",
    "workflow__deployment",
    "current_step",
)


def _execute_nodes(chunk: Chunk) -> Outcome:
    run = chunk.run
    # An outside call's answer is recorded first (the effect happened); exit
    # criteria are checked again from the next node on.
    if chunk.answer is None and exit_event_received(chunk):
        transitions.exit(run)
        return Outcome.EXITED
    for _ in range(chunk.nodes_per_chunk):
        if chunk.answer is None and exit_rules_met(chunk):
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
        if outside and run.current_step is None and hold_for_quiet_hours(chunk):
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


def _begin_outside_call(chunk: Chunk, node: dict, node_class: type[NodeType]) -> Outcome:
    """Commit the visit's step as `running` with this attempt counted; the call comes after.

    A worker killed during the call leaves that step behind: the reaper
    declares the attempt lost when the lease ends, and the attempts left
    decide whether the next delivery calls again or fails the run.
    """
    run = chunk.run
    now = timezone.now()
    step = run.current_step
    if step is None:
        step = new_visit(run, node["id"], node_class.type, now, attempt=0)
    attempt = step.attempt + 1
    if attempt - run.retry_floor > settings.ACTION_MAX_ATTEMPTS:
        step.status = StepStatus.FAILED
        step.finished_at = now
        step.error = step.error or "the outside call was cut off"
        record(chunk, step, now=True)
        transitions.fail(
            run, f"{node['id']}: {step.error} (gave up after {step.attempt} attempts)", step=step
        )
        return Outcome.FAILED
    step.attempt = attempt
    step.status = StepStatus.RUNNING
    step.finished_at = None
    record(chunk, step, now=True)
    run.current_step = step
    config = (node.get("data") or {}).get("config") or {}
    ctx = context(chunk, node["id"], config, attempt)
    ctx.visit_started_at = step.started_at
    ctx.connections = resolve_connections(run.workspace_id, node_class.connection_ids(config))
    chunk.calls.append(
        OutsideCall(step_id=step.pk, attempt=attempt, implementation=node_class(), ctx=ctx)
    )
    return Outcome.CALL


def _visit(chunk: Chunk, node: dict, node_class: type[NodeType]) -> Outcome:
    """Execute (or resume) the run's current node and record it as one step."""
    run = chunk.run
    node_id = node["id"]
    config = (node.get("data") or {}).get("config") or {}
    step = run.current_step
    answer, chunk.answer = chunk.answer, None
    if answer is not None:
        # The outside call was made with no lock held; record what it answered.
        if answer.error is not None:
            return node_failed(
                chunk, node, node_class, step, answer.attempt, answer.error, answer.started
            )
        return _record_result(chunk, node, node_class, step, answer.attempt, answer.result)
    resuming = step is not None and step.status == StepStatus.WAITING
    attempt = step.attempt + 1 if step is not None and not resuming else 1
    if step is not None and resuming:
        attempt = step.attempt
    ctx = context(chunk, node_id, config, attempt)
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
            with template_budget.shared():  # one budget for all the step's templates
                result = implementation.run(ctx)
            if run.is_preview:
                result = preview.steer(run, node_id, node_class, implementation, ctx, result)
            if result.wait is not None and result.wait.event and not chunk.dry_run:
                # The event may have arrived while the run was busy or queued.
                stored = stored_event(chunk, node_id, result.wait)
                if stored is not None:
                    result = implementation.resume(ctx, RESUMED_BY_EVENT, stored)
    except NOT_THE_RUNS_FAULT:
        raise
    except Exception as error:
        return node_failed(chunk, node, node_class, step, attempt, error, started)
    return _record_result(chunk, node, node_class, step, attempt, result, started)


def _record_result(
    chunk: Chunk,
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
        step = new_visit(run, node_id, node_class.type, started)
    step.attempt = attempt
    step.error = ""
    step.traceback = ""
    if result.wait is not None:
        return park_at_wait(chunk, step, result)
    step.status = StepStatus.COMPLETED
    step.handle = "" if result.end else result.handle
    step.output = jsonable(result.output)
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


def _apply_effects(chunk: Chunk, step: Step, result: NodeResult) -> None:
    """Apply what the node asked for and record its step, in this transaction."""
    run = chunk.run
    if chunk.dry_run:
        record(chunk, step)
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
    record(chunk, step, now=bool(result.inbox))
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
