"""Celery tasks of products/: beat entries that call a service, nothing else."""

from celery import shared_task

from . import services


@shared_task(name="products.refresh_dirty", ignore_result=True, expires=10)
def refresh_dirty() -> int:
    return services.refresh_due_products()


@shared_task(name="products.refresh_all", ignore_result=True, expires=600)
def refresh_all() -> int:
    return services.refresh_all_products()


@shared_task(name="products.raise_escalations", ignore_result=True, expires=10)
def raise_escalations() -> int:
    return services.raise_overdue_escalations()


@shared_task(name="products.fire_schedules", ignore_result=True, expires=30)
def fire_schedules() -> int:
    return services.fire_product_schedules()


# What the embedded executor runs in place of beat (`make run` with nothing
# configured), by beat's task name: ProductsConfig.ready() adds them at beat's
# intervals. The refresh tick is shorter there: the same thread runs the runs.
EMBEDDED = {
    "products.refresh_dirty": lambda: services.refresh_due_products(budget_seconds=0.5),
    "products.refresh_all": services.refresh_all_products,
    "products.raise_escalations": services.raise_overdue_escalations,
    "products.fire_schedules": services.fire_product_schedules,
}
