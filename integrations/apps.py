from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from automation.nodes.registry import register, set_connection_resolver

        from .email.nodes import EmailAction
        from .services import resolve_connections
        from .slack.nodes import SlackMessage
        from .webhook.nodes import WebhookAction

        register(EmailAction)
        register(WebhookAction)
        register(SlackMessage)
        set_connection_resolver(resolve_connections)
