from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from automation.nodes.registry import register, set_connection_resolver

        from .email.nodes import EmailAction
        from .github.nodes import GitHubIssue
        from .jira.nodes import JiraIssue
        from .linear.nodes import LinearIssue
        from .mixpanel.nodes import MixpanelTrack
        from .push.nodes import WebPush
        from .services import resolve_connections
        from .slack.nodes import SlackMessage
        from .sms.nodes import SendSms
        from .webhook.nodes import WebhookAction

        for node_type in (
            EmailAction,
            WebhookAction,
            SlackMessage,
            JiraIssue,
            GitHubIssue,
            LinearIssue,
            MixpanelTrack,
            SendSms,
            WebPush,
        ):
            register(node_type)
        # Nodes get their connections' credentials through the engine, not the ORM.
        set_connection_resolver(resolve_connections)
