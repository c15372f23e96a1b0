"""Who may keep watching: a removed member's sockets are told to check again.

A WebSocket opened while its user was a member keeps its scope (user,
workspace) for as long as it stays open. When a membership is deleted
(directly, or with its user or workspace) or a user is deactivated, every
socket of that user gets a "recheck" message on its user group, after
commit; each socket re-reads the membership and closes with 4403 if it is
gone. The consumers also re-check on every request and on a timer
(builder/consumers.py), which covers what a signal cannot see (a change
made by a raw query or in another process with the in-memory layer).
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Membership

log = logging.getLogger("cairn.live")

RECHECK = "watch.recheck"


def user_group(user_id) -> str:
    """Every open watcher socket of one user."""
    return f"watcher.user.{user_id}"


def recheck_watchers(user_id) -> None:
    """Ask every socket of this user to re-check its access (after the current commit)."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(user_group(user_id), {"type": RECHECK})
        except Exception:  # the timer re-check still closes the socket
            log.warning("could not tell user %s's watchers to re-check", user_id, exc_info=True)

    transaction.on_commit(send)


@receiver(post_delete, sender=Membership, dispatch_uid="watchers-membership-deleted")
def _membership_deleted(sender, instance: Membership, **kwargs) -> None:
    recheck_watchers(instance.user_id)


@receiver(post_save, sender=Membership, dispatch_uid="watchers-membership-changed")
def _membership_changed(sender, instance: Membership, created: bool, **kwargs) -> None:
    if not created:  # moved to another workspace, or a role changed
        recheck_watchers(instance.user_id)


@receiver(post_save, dispatch_uid="watchers-user-saved")
def _user_saved(sender, instance, created: bool, **kwargs) -> None:
    if sender is get_user_model() and not created and not instance.is_active:
        recheck_watchers(instance.pk)
