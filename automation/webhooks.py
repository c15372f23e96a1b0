"""The signed URL of a workflow's own webhook (trigger.webhook).

The secret part is an HMAC of the workflow id with SECRET_KEY: the builder
shows the URL, the inbound endpoint (integrations/inbound) checks it.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def webhook_signature(workflow_id) -> str:
    """The secret part of a workflow's webhook URL: an HMAC of its id."""
    message = f"cairn-webhook:{workflow_id}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:40]


def webhook_path(workflow_id) -> str:
    return f"/hooks/workflows/{workflow_id}/{webhook_signature(workflow_id)}"
