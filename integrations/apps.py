from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from automation.nodes.registry import register

        from .email.nodes import EmailAction
        from .webhook.nodes import WebhookAction

        register(EmailAction)
        register(WebhookAction)
