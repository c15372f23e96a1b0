"""Contact changes, and the property and segment triggers they fire."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from .enrolment import Enrolment, enrol
from .models import Contact, Deployment, DeploymentStatus, Run, TriggerBinding
from .nodes.triggers import CONTACT, trigger_class, trigger_types

MISSING = object()


@dataclass(frozen=True)
class ContactRef:
    email: str | None = None
    external_id: str | None = None
    properties: Mapping[str, Any] | None = None
    time_zone: str | None = None


def merge_properties(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `changes` into `current`; a None value removes the property."""
    merged = dict(current)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def apply_contact_changes(
    contact: Contact,
    *,
    properties: Mapping[str, Any] | None = None,
    add_tags: Iterable[str] = (),
    remove_tags: Iterable[str] = (),
    set_tags: Iterable[str] | None = None,
    time_zone: str | None = None,
    save: bool = True,
) -> list[Run]:
    """Change a contact and enrol it where a property or segment trigger fires.

    The caller holds the contact's row lock (or just created it) so the
    old values compared here are the ones this change replaces.
    """
    old_properties = dict(contact.properties)
    old_tags = list(contact.tags)
    change_contact(
        contact,
        properties=properties,
        add_tags=add_tags,
        remove_tags=remove_tags,
        set_tags=set_tags,
        time_zone=time_zone,
    )
    if save:
        contact.save()
    return fire_contact_triggers(contact, old_properties, old_tags)


def change_contact(
    contact: Contact,
    *,
    properties: Mapping[str, Any] | None = None,
    add_tags: Iterable[str] = (),
    remove_tags: Iterable[str] = (),
    set_tags: Iterable[str] | None = None,
    time_zone: str | None = None,
) -> None:
    """Change the contact in memory: properties merge (None removes), tags add/remove/replace."""
    if properties:
        contact.properties = merge_properties(contact.properties, properties)
    tags = list(set_tags) if set_tags is not None else list(contact.tags)
    for tag in add_tags:
        if tag not in tags:
            tags.append(tag)
    removed = set(remove_tags)
    contact.tags = [tag for tag in tags if tag not in removed]
    if time_zone:
        contact.time_zone = time_zone


def fire_contact_triggers(
    contact: Contact, old_properties: Mapping[str, Any], old_tags: Iterable[str]
) -> list[Run]:
    return fire_contacts_triggers([(contact, old_properties, old_tags)])


ContactChange = tuple[Contact, Mapping[str, Any], Iterable[str]]


def fire_contacts_triggers(changes: Iterable[ContactChange]) -> list[Run]:
    """Enrol where property and segment triggers fire for these contact changes.

    Set-based: the workspace's bindings are read once and every enrolment is
    made in one `enrol` call, however many contacts changed.
    """
    net = []
    for contact, old_properties, old_tags in changes:
        changed = {
            name
            for name in set(old_properties) | set(contact.properties)
            if old_properties.get(name, MISSING) != contact.properties.get(name, MISSING)
        }
        added_tags = set(contact.tags) - set(old_tags)
        if changed or added_tags:
            net.append((contact, old_properties, changed, added_tags))
    if not net:
        return []
    bindings_by_workspace: dict[Any, list[TriggerBinding]] = {}
    enrolments = []
    for contact, old_properties, _changed, added_tags in net:
        workspace_id = contact.workspace_id
        if workspace_id not in bindings_by_workspace:
            bindings_by_workspace[workspace_id] = _contact_trigger_bindings(workspace_id)
        for binding in bindings_by_workspace[workspace_id]:
            trigger = trigger_class(binding.trigger_type)
            if not trigger.fires_on_change(
                binding.config, binding.key, old_properties, contact.properties, added_tags
            ):
                continue
            enrolments.append(Enrolment(binding.deployment, contact, binding.node_id))
    return enrol(enrolments)


def _contact_trigger_bindings(workspace_id) -> list[TriggerBinding]:
    """The workspace's active property and segment triggers.

    Called for every step that changes a contact, so it is one plain SQL
    statement (the ORM's query building cost more than the query); the
    deployments are loaded only for the few bindings that may fire.
    """
    types = trigger_types(CONTACT)
    if not types:
        return []
    placeholders = ", ".join(["%s"] * len(types))
    table = TriggerBinding._meta.db_table
    deployments = Deployment._meta.db_table
    bindings = list(
        TriggerBinding.objects.raw(
            f"SELECT b.* FROM {table} b JOIN {deployments} d ON d.workflow_id = b.deployment_id "
            f"WHERE b.workspace_id = %s AND d.status = %s AND b.trigger_type IN ({placeholders})",
            [workspace_id, DeploymentStatus.ACTIVE, *types],
        )
    )
    if bindings:
        by_id = Deployment.objects.in_bulk({b.deployment_id for b in bindings})
        for binding in bindings:
            binding.deployment = by_id[binding.deployment_id]
    return bindings


# ---------------------------------------------------------------- upsert and edit
# (the contacts API; events reach contacts through automation.ingest instead)


class ContactError(Exception):
    """A change the workspace's other contacts do not allow, e.g. an email already in use."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@transaction.atomic
def upsert_contact(
    workspace_id: int,
    *,
    email: str | None = None,
    external_id: str | None = None,
    properties: Mapping[str, Any] | None = None,
    tags: Iterable[str] | None = None,
    time_zone: str | None = None,
) -> tuple[Contact, bool]:
    """Find the contact by external_id, else by email, and change it; or create it.

    Returns (contact, created). The contact is row-locked (or new) while the
    change is applied, so property and segment triggers compare against the
    values this change replaces.
    """
    email = email.lower() if email else None
    external_id = external_id or None
    if not email and not external_id:
        raise ContactError("a contact needs an email or an external_id", field="email")
    for _attempt in range(2):
        contact = _find_for_upsert(workspace_id, email, external_id)
        if contact is not None:
            _change(contact, email, external_id, properties, tags, time_zone)
            return contact, False
        contact = Contact(workspace_id=workspace_id, email=email, external_id=external_id)
        try:
            with transaction.atomic():
                contact.save()
        except IntegrityError:
            continue  # created concurrently: find it and change it instead
        _change(contact, MISSING, MISSING, properties, tags, time_zone)
        return contact, True
    raise ContactError("the contact changed while it was being saved; try again", field="email")


@transaction.atomic
def update_contact(
    contact: Contact,
    *,
    email: Any = MISSING,
    external_id: Any = MISSING,
    properties: Mapping[str, Any] | None = None,
    tags: Iterable[str] | None = None,
    time_zone: str | None = None,
) -> Contact:
    """Change one contact under its row lock. `properties` merge (None deletes one);
    `tags` replace the list. Arguments left out are left as they are."""
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    if email is not MISSING and email:
        email = email.lower()
    _change(locked, email, external_id, properties, tags, time_zone)
    return locked


def _find_for_upsert(workspace_id, email, external_id) -> Contact | None:
    contacts = Contact.objects.select_for_update().filter(workspace_id=workspace_id)
    if external_id:
        found = contacts.filter(external_id=external_id).first()
        if found is not None:
            return found
    if email:
        found = contacts.filter(email=email).first()
        if found is not None and external_id and found.external_id not in (None, external_id):
            raise ContactError(
                f"{email} belongs to the contact with external_id '{found.external_id}'",
                field="email",
            )
        return found
    return None


def _change(contact: Contact, email, external_id, properties, tags, time_zone) -> None:
    if email is not MISSING and email != contact.email:
        _check_free(contact, "email", email)
        contact.email = email or None
    if external_id is not MISSING and external_id != contact.external_id:
        _check_free(contact, "external_id", external_id)
        contact.external_id = external_id or None
    if not contact.email and not contact.external_id:
        raise ContactError("a contact needs an email or an external_id", field="email")
    try:
        with transaction.atomic():
            apply_contact_changes(
                contact, properties=properties, set_tags=tags, time_zone=time_zone
            )
    except IntegrityError:
        raise ContactError(
            "another contact of this workspace already has this email or external_id",
            field="email",
        ) from None


def _check_free(contact: Contact, field: str, value) -> None:
    if not value:
        return
    taken = (
        Contact.objects.filter(workspace_id=contact.workspace_id, **{field: value})
        .exclude(pk=contact.pk)
        .exists()
    )
    if taken:
        raise ContactError(f"another contact already has {field} '{value}'", field=field)


def save_contacts(contacts: Sequence[Contact], field_names: Sequence[str]) -> None:
    """Write these fields of many contacts in one round trip.

    Django's bulk_update builds a CASE expression per field and row, which
    cost more than everything else in ingest; one prepared UPDATE sent with
    executemany (pipelined by psycopg 3) does the same work for a fraction.
    """
    if not contacts:
        return
    now = timezone.now()
    fields = [Contact._meta.get_field(name) for name in [*field_names, "updated_at"]]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(Contact._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"
    rows = []
    for contact in contacts:
        contact.updated_at = now
        rows.append(
            [
                field.get_db_prep_save(getattr(contact, field.attname), connection)
                for field in fields
            ]
            + [contact.pk]
        )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def link_contact_refs(
    workspace_id: int, refs: Sequence[ContactRef], *, field: str = "refs[{index}].email"
) -> None:
    """Prepare refs that carry both an external_id and an email for upsert_contacts.

    upsert_contacts looks such a ref up by external_id only. A contact known
    so far only by that email (an anonymous visitor who now logs in) takes
    the external_id here, so it is found rather than duplicated (the insert
    would collide with its email). An email that belongs to a contact with
    another external_id is refused with a ContactError naming `field` (formatted
    with the ref's index).
    Call inside the transaction that ingests the refs.
    """
    both = [(index, ref) for index, ref in enumerate(refs) if ref.external_id and ref.email]
    if not both:
        return
    contacts = Contact.objects.filter(workspace_id=workspace_id)
    known = set(
        contacts.filter(external_id__in={ref.external_id for _, ref in both}).values_list(
            "external_id", flat=True
        )
    )
    owners = {
        contact.email: contact
        for contact in contacts.select_for_update()
        .filter(email__in={ref.email.lower() for _, ref in both})
        .order_by("pk")
    }
    for index, ref in both:
        owner = owners.get(ref.email.lower())
        if ref.external_id in known or owner is None:
            continue
        if owner.external_id and owner.external_id != ref.external_id:
            raise ContactError(
                f"{ref.email} belongs to the contact with external_id '{owner.external_id}'",
                field=field.format(index=index),
            )
        owner.external_id = ref.external_id
        owner.save(update_fields=["external_id", "updated_at"])
        known.add(ref.external_id)


def number_event(contact: Contact) -> int:
    """The `Event.seq` of the contact's next event; the caller holds the contact's
    row lock and saves `event_seq` with it."""
    contact.event_seq += 1
    return contact.event_seq


def reserve_event_seq(contact_id: int) -> int:
    """The `Event.seq` of the next event of a contact nobody has locked here: the
    UPDATE takes the row lock until the caller's transaction ends."""
    Contact.objects.filter(pk=contact_id).update(event_seq=F("event_seq") + 1)
    return Contact.objects.filter(pk=contact_id).values_list("event_seq", flat=True).get()
