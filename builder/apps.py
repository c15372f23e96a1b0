from django.apps import AppConfig


class BuilderConfig(AppConfig):
    name = "builder"
    verbose_name = "Builder (definitions)"

    def ready(self) -> None:
        from . import watchers  # noqa: F401 (connects the revocation signals)
