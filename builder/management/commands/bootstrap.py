"""`manage.py bootstrap`: the default workspace and an admin who can log in. Safe to run again.

The admin's password comes from CAIRN_ADMIN_PASSWORD when it is set, and is
re-applied on every run so the environment stays the truth. Without it, the
first run generates a password and prints it once; later runs leave it alone.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from builder.models import Membership, Role, Workspace

WORKSPACE_SLUG = "default"
WORKSPACE_NAME = "Default workspace"
ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@localhost"


class Command(BaseCommand):
    help = (
        "Create the default workspace and the 'admin' superuser (a member of it). "
        "Idempotent: run it on every deploy."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            default=None,
            help="Where Cairn is served, for the login hint (default: PUBLIC_BASE_URL).",
        )

    def handle(self, *args, **options):
        env_password = settings.CAIRN_ADMIN_PASSWORD
        with transaction.atomic():
            workspace, workspace_created = Workspace.objects.get_or_create(
                slug=WORKSPACE_SLUG, defaults={"name": WORKSPACE_NAME}
            )
            user, user_created = self._ensure_admin()
            membership, _ = Membership.objects.get_or_create(
                workspace=workspace, user=user, defaults={"role": Role.ADMIN}
            )
            if membership.role != Role.ADMIN:
                membership.role = Role.ADMIN
                membership.save(update_fields=["role"])

            generated = None
            if env_password:
                user.set_password(env_password)
                user.save(update_fields=["password"])
            elif user_created:
                generated = secrets.token_urlsafe(12)
                user.set_password(generated)
                user.save(update_fields=["password"])

        verb = "Created" if workspace_created else "Found"
        self.stdout.write(f"{verb} workspace '{workspace.slug}' ({workspace.name}).")
        verb = "Created" if user_created else "Found"
        self.stdout.write(f"{verb} superuser '{user.get_username()}', an admin of it.")
        if env_password:
            self.stdout.write("Password set from CAIRN_ADMIN_PASSWORD.")
        elif generated:
            self.stdout.write(
                self.style.WARNING(f"Generated password (shown once, keep it): {generated}")
            )
        else:
            self.stdout.write(
                "Password left unchanged (set CAIRN_ADMIN_PASSWORD to set it on every run)."
            )
        base = (options["url"] or settings.PUBLIC_BASE_URL).rstrip("/")
        self.stdout.write(self.style.SUCCESS(f"Log in at {base}/login/ as {user.get_username()}"))
        self.stdout.write(f"Admin: {base}/admin/  API docs: {base}/api/docs/")

    def _ensure_admin(self):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            **{User.USERNAME_FIELD: ADMIN_USERNAME},
            defaults={"email": ADMIN_EMAIL, "is_staff": True, "is_superuser": True},
        )
        if created:
            user.set_unusable_password()
            user.save()
        elif not (user.is_staff and user.is_superuser and user.is_active):
            user.is_staff = user.is_superuser = user.is_active = True
            user.save(update_fields=["is_staff", "is_superuser", "is_active"])
        return user, created
