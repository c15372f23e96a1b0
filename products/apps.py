from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "products"
    verbose_name = "Products"

    def ready(self) -> None:
        # The product node types join the one catalogue, like integrations' do.
        from automation.nodes.registry import register

        from .nodes import NODE_TYPES

        for node_type in NODE_TYPES:
            register(node_type)

        # Product usage is rolled up as events are stored, whichever way they came.
        from automation.ingest import events_stored

        from .services import count_usage

        events_stored.connect(count_usage, dispatch_uid="products.count_usage")

        # Without Celery (the embedded default) the executor thread runs what beat
        # would: metrics refresh, escalation raises, product schedules, at beat's
        # intervals (PRODUCT_METRICS_DIRTY_SECONDS, …).
        from django.conf import settings

        from automation import embedded

        from .tasks import EMBEDDED

        for entry in settings.CELERY_BEAT_SCHEDULE.values():
            if entry["task"] in EMBEDDED:
                embedded.every(entry["schedule"], EMBEDDED[entry["task"]])
