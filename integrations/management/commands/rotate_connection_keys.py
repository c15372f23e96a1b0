"""Re-encrypt every stored credential with the newest CONNECTION_ENCRYPTION_KEYS key.

Rotation: put the new key first in CONNECTION_ENCRYPTION_KEYS (keep the old
one after it), restart, run this command, then remove the old key. Secrets
stored by earlier releases under the key they derived from SECRET_KEY (read
through CONNECTION_DECRYPTION_FALLBACK_KEYS) are re-encrypted too.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from integrations import crypto
from integrations.models import Connection, WebhookSecret


class Command(BaseCommand):
    help = "Re-encrypt stored credentials with the first CONNECTION_ENCRYPTION_KEYS key."

    def handle(self, *args, **options):
        count = 0
        with transaction.atomic():
            for connection in Connection.objects.select_for_update().order_by("pk"):
                connection.encrypted_secrets = crypto.rotate(connection.encrypted_secrets)
                connection.save(update_fields=["encrypted_secrets"])
                count += 1
            for secret in WebhookSecret.objects.select_for_update().order_by("pk"):
                secret.encrypted_secret = crypto.rotate(secret.encrypted_secret)
                secret.save(update_fields=["encrypted_secret"])
                count += 1
        self.stdout.write(f"re-encrypted {count} stored secrets with the newest key")
