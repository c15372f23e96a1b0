"""Celery tasks of products/: beat entries that call a service, nothing else."""

from celery import shared_task

from . import services


@shared_task(name="products.refresh_dirty", ignore_result=True, expires=10)
def refresh_dirty() -> int:
    return services.refresh_dirty_products()


@shared_task(name="products.refresh_all", ignore_result=True, expires=600)
def refresh_all() -> int:
    return services.refresh_all_products()


@shared_task(name="products.raise_escalations", ignore_result=True, expires=10)
def raise_escalations() -> int:
    return services.raise_overdue_escalations()


@shared_task(name="products.fire_schedules", ignore_result=True, expires=30)
def fire_schedules() -> int:
    return services.fire_product_schedules()
