"""`manage.py create_api_key WORKSPACE NAME`: the only way an API key is made.

The raw key is printed once; Cairn keeps only its hash.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from builder.models import ApiKey, Role, Workspace


class Command(BaseCommand):
    help = "Create an API key for a workspace and print it once."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="The workspace's slug, e.g. 'default'.")
        parser.add_argument("name", help="What the key is for, e.g. 'signup service'.")
        parser.add_argument(
            "--role",
            choices=Role.values,
            default=Role.ADMIN,
            help="What the key may do (default: PUBLIC_BASE_URL).",
        )
        parser.add_argument(
            "--url",
            default=None,
            help="Where Cairn is served, for the curl example (default: PUBLIC_BASE_URL).",
        )

    def handle(self, *args, **options):
        slug = options["workspace"]
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is None:
            known = ", ".join(Workspace.objects.values_list("slug", flat=True)[:20]) or "none"
            raise CommandError(f"no workspace with slug '{slug}' (known: {known})")
        key, raw = ApiKey.objects.create_key(workspace, options["name"], role=options["role"])
        base = (options["url"] or settings.PUBLIC_BASE_URL).rstrip("/")
        self.stdout.write(
            f"Created API key '{key.name}' ({key.role}) for workspace '{workspace.slug}'."
        )
        self.stdout.write("The key is shown once; Cairn stores only its hash:")
        self.stdout.write("")
        self.stdout.write(f"    {raw}")
        self.stdout.write("")
        self.stdout.write("Try it:")
        self.stdout.write(f'    curl -H "Authorization: Bearer {raw}" {base}/api/v1/workflows/')
