"""An index for the metrics queries: a product's usage events by time.

Usage events are automation Events whose data names the product; the
metrics read them with `data ? 'product' AND data -> 'product' = <id>` and
a time range. PostgreSQL only (the embedded SQLite database is small).
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS products_usage_event "
    "ON automation_event ((data -> 'product'), occurred_at) WHERE data ? 'product'"
)
DROP = "DROP INDEX IF EXISTS products_usage_event"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("products", "0001_initial"), ("automation", "0003_preview")]

    operations = [migrations.RunPython(create, drop)]
