from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operating Cairn: how `make run` resolves its settings, and the metrics endpoint."""

    name = "ops"
    verbose_name = "Operations"
