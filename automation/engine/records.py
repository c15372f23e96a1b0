"""Step records: each visit of a node is one Step row, written with its chunk,
and watchers hear of it once the chunk commits."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from .. import live
from ..contacts import fire_contacts_triggers, save_contacts
from ..models import Run, Step
from ..safe_json import storable
from .chunk import Chunk


def publish_after_commit(chunk: Chunk) -> None:
    """Tell watchers (monitoring, preview) what this chunk did, once it is committed."""
    run = chunk.run
    messages = [live.step_message(run, step, output=run.is_preview) for step in chunk.touched]
    if not messages:
        messages = [live.run_message(run)]
    group = live.preview_group(run.pk) if run.is_preview else live.workflow_group(run.workflow_id)
    transaction.on_commit(lambda: live.publisher.publish_many(group, messages))


def write_chunks(chunks: list[Chunk]) -> None:
    """Persist what the chunks' nodes did: steps first, then the contacts, each
    in one statement however many chunks."""
    Step.objects.bulk_create(
        [step for chunk in chunks for step in chunk.new_steps if step.pk is None]
    )
    dirty = [chunk for chunk in chunks if chunk.contact_dirty]
    if dirty:
        fire_contacts_triggers([(chunk.contact, *chunk.contact_before) for chunk in dirty])
        save_contacts([chunk.contact for chunk in dirty], ["properties", "tags", "time_zone"])


def new_visit(run: Run, node_id: str, node_type: str, started_at, **fields) -> Step:
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


def record(chunk: Chunk, step: Step, *, now: bool = False) -> None:
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


def jsonable(value: Any) -> Any:
    """Outputs go into JSON columns: what they cannot hold is replaced (safe_json.storable)."""
    return storable(value, settings.STEP_OUTPUT_MAX_BYTES)
