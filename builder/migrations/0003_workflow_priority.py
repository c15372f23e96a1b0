from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("builder", "0002_workflow_draft_revision"),
    ]

    operations = [
        migrations.AddField(
            model_name="workflow",
            name="priority",
            field=models.CharField(
                choices=[("high", "High"), ("normal", "Normal"), ("low", "Low")],
                default="normal",
                help_text=(
                    "Runs of high-priority workflows are taken before normal, normal before low."
                ),
                max_length=10,
            ),
        ),
    ]
