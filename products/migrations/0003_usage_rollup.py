"""The usage rollup (products/rollup.py), filled from the usage events stored
so far; then the expression index the metrics used to scan events with goes
(nothing reads events by product any more)."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Q
from django.db.models.functions import TruncDate

DROP_INDEX = "DROP INDEX IF EXISTS products_usage_event"
CREATE_INDEX = (
    "CREATE INDEX IF NOT EXISTS products_usage_event "
    "ON automation_event ((data -> 'product'), occurred_at) WHERE data ? 'product'"
)


def backfill(apps, schema_editor):
    Event = apps.get_model("automation", "Event")
    Feature = apps.get_model("products", "Feature")
    Product = apps.get_model("products", "Product")
    UsageDay = apps.get_model("products", "UsageDay")
    FeatureUseDay = apps.get_model("products", "FeatureUseDay")
    scored = Q(type="nps", data__score__gte=0, data__score__lte=10)
    for product in Product.objects.all():
        events = Event.objects.filter(
            workspace_id=product.workspace_id, data__has_key="product", data__product=product.pk
        ).annotate(day_of=TruncDate("occurred_at"))
        days = events.values("contact", "day_of").annotate(
            n=Count("pk"),
            n_sessions=Count("pk", filter=Q(type="session")),
            n_errors=Count("pk", filter=Q(type="error")),
            n_nps=Count("pk", filter=scored),
            n_promoters=Count("pk", filter=scored & Q(data__score__gte=9)),
            n_detractors=Count("pk", filter=scored & Q(data__score__lte=6)),
        )
        UsageDay.objects.bulk_create(
            (
                UsageDay(
                    product=product,
                    contact_id=row["contact"],
                    day=row["day_of"],
                    events=row["n"],
                    sessions=row["n_sessions"],
                    errors=row["n_errors"],
                    nps_responses=row["n_nps"],
                    promoters=row["n_promoters"],
                    detractors=row["n_detractors"],
                )
                for row in days.iterator()
            ),
            batch_size=1000,
        )
        keys = list(Feature.objects.filter(product=product).values_list("key", flat=True))
        uses = (
            events.filter(type="feature_used", data__feature__in=keys)
            .values("data__feature", "contact", "day_of")
            .annotate(n=Count("pk"))
        )
        FeatureUseDay.objects.bulk_create(
            (
                FeatureUseDay(
                    product=product,
                    feature_key=row["data__feature"],
                    contact_id=row["contact"],
                    day=row["day_of"],
                    uses=row["n"],
                )
                for row in uses.iterator()
            ),
            batch_size=1000,
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_INDEX)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_INDEX)


class Migration(migrations.Migration):

    dependencies = [
        ('automation', '0007_run_released'),
        ('products', '0002_usage_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='FeatureUseDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('feature_key', models.CharField(max_length=100)),
                ('day', models.DateField()),
                ('uses', models.PositiveIntegerField(default=0)),
                ('contact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='automation.contact')),
                ('product', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='products.product')),
            ],
            options={
                'indexes': [models.Index(fields=['product', 'day'], name='feature_day_by_product')],
                'constraints': [models.UniqueConstraint(fields=('product', 'feature_key', 'contact', 'day'), name='one_feature_use_day')],
            },
        ),
        migrations.CreateModel(
            name='UsageDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('events', models.PositiveIntegerField(default=0)),
                ('sessions', models.PositiveIntegerField(default=0)),
                ('errors', models.PositiveIntegerField(default=0)),
                ('nps_responses', models.PositiveIntegerField(default=0)),
                ('promoters', models.PositiveIntegerField(default=0)),
                ('detractors', models.PositiveIntegerField(default=0)),
                ('contact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='automation.contact')),
                ('product', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='products.product')),
            ],
            options={
                'indexes': [models.Index(fields=['product', 'day'], name='usage_day_by_product')],
                'constraints': [models.UniqueConstraint(fields=('product', 'contact', 'day'), name='one_usage_day_per_contact')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(drop_index, create_index),
    ]
