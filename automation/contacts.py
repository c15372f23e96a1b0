"""Contact changes, and the property and segment triggers they fire."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .enrolment import Enrolment, enrol
from .models import Contact, DeploymentStatus, Run, TriggerBinding
from .nodes.triggers import property_trigger_fires

MISSING = object()


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
    if save:
        contact.save()
    return fire_contact_triggers(contact, old_properties, old_tags)


def fire_contact_triggers(
    contact: Contact, old_properties: Mapping[str, Any], old_tags: Iterable[str]
) -> list[Run]:
    changed = {
        name
        for name in set(old_properties) | set(contact.properties)
        if old_properties.get(name, MISSING) != contact.properties.get(name, MISSING)
    }
    added_tags = set(contact.tags) - set(old_tags)
    if not changed and not added_tags:
        return []
    bindings = TriggerBinding.objects.filter(
        workspace_id=contact.workspace_id, deployment__status=DeploymentStatus.ACTIVE
    ).select_related("deployment")
    enrolments = []
    for binding in bindings.filter(trigger_type="trigger.property", key__in=changed):
        old = old_properties.get(binding.key)
        new = contact.properties.get(binding.key)
        if property_trigger_fires(binding.config, old, new):
            enrolments.append(Enrolment(binding.deployment, contact, binding.node_id))
    for binding in bindings.filter(trigger_type="trigger.segment", key__in=added_tags):
        enrolments.append(Enrolment(binding.deployment, contact, binding.node_id))
    return enrol(enrolments)
