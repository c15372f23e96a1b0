from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation (runtime)"

    def ready(self) -> None:
        from .nodes import actions, conditions, flow, triggers, waits
        from .nodes.registry import register

        for module in (triggers, conditions, waits, actions, flow):
            for node_class in module.NODE_TYPES:
                register(node_class)
