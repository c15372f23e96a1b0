"""Inbound webhooks: outside systems POST to a workflow's own signed URL (trigger.webhook)."""
