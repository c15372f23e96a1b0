"""Cairn's metrics in the Prometheus text format, computed when they are scraped.

Every number is read from PostgreSQL and Redis at scrape time, never kept in
a process: any web process answers the same, however many web processes,
workers and beats run, and a restart loses nothing.

| metric | type | from |
| --- | --- | --- |
| `cairn_runs_started_total` | counter | runs created (previews excluded) |
| `cairn_runs_completed_total` / `cairn_runs_failed_total` | counter | runs that ended so |
| `cairn_runs{status}` | gauge | runs in each status now |
| `cairn_steps_total{status}` | counter | steps executed, by their status |
| `cairn_events_received_total` | counter | events stored; its `rate()` is the ingest rate |
| `cairn_events_received_last_minute` | gauge | events stored in the last 60 s |
| `cairn_timers_due` | gauge | waiting runs whose timer is due and not yet released |
| `cairn_timer_sweep_lag_seconds` | gauge | how long the oldest of those has been due (0: none) |
| `cairn_runs_released` | gauge | runs released by the sweep, waiting for room in their queue |
| `cairn_queue_depth{queue}` | gauge | Celery messages waiting in Redis, per queue |
| `cairn_queue_unacked` | gauge | messages delivered to a worker and not yet acknowledged |
| `cairn_runs_stranded{reason}` | gauge | runs nothing can wake (`manage.py check_runs`): 0 |
| `cairn_dependency_failures_total{dependency}` | counter | failures to reach Redis, all processes |

A run that fails and is retried leaves `cairn_runs_failed_total` again
(Prometheus reads that as a counter reset); deleting a workflow deletes its
runs and steps from the counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from automation import stranded
from automation.models import Event, Run, RunStatus, Step, StepStatus
from config import dependency_log
from config.redis_clients import redis_client
from ops.models import DependencyFailures

INGEST_WINDOW = timedelta(seconds=60)


def _runs() -> Iterator[Metric]:
    by_status = dict(
        Run.objects.filter(is_preview=False)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    started = CounterMetricFamily("cairn_runs_started", "Runs created (previews excluded).")
    started.add_metric([], sum(by_status.values()))
    yield started
    for status, help_text in (
        (RunStatus.COMPLETED, "Runs that completed."),
        (RunStatus.FAILED, "Runs that failed (after their last attempt)."),
    ):
        counter = CounterMetricFamily(f"cairn_runs_{status}", help_text)
        counter.add_metric([], by_status.get(status, 0))
        yield counter
    gauge = GaugeMetricFamily("cairn_runs", "Runs in each status now.", labels=["status"])
    for status in RunStatus.values:
        gauge.add_metric([status], by_status.get(status, 0))
    yield gauge


def _steps() -> Iterator[Metric]:
    by_status = dict(
        Step.objects.filter(run__is_preview=False)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    counter = CounterMetricFamily(
        "cairn_steps", "Steps executed (one per visit of a node), by status.", labels=["status"]
    )
    for status in StepStatus.values:
        counter.add_metric([status], by_status.get(status, 0))
    yield counter


def _events() -> Iterator[Metric]:
    since = timezone.now() - INGEST_WINDOW
    counts = Event.objects.order_by().aggregate(
        total=Count("pk"), recent=Count("pk", filter=Q(received_at__gte=since))
    )
    total = CounterMetricFamily(
        "cairn_events_received", "Events stored (duplicates are not stored twice)."
    )
    total.add_metric([], counts["total"])
    yield total
    recent = GaugeMetricFamily(
        "cairn_events_received_last_minute", "Events stored in the last 60 seconds."
    )
    recent.add_metric([], counts["recent"])
    yield recent


def _timers() -> Iterator[Metric]:
    now = timezone.now()
    due = Run.objects.filter(status=RunStatus.WAITING, held=False, resume_at__lte=now).aggregate(
        n=Count("pk"), oldest=Min("resume_at")
    )
    gauge = GaugeMetricFamily(
        "cairn_timers_due", "Waiting runs whose timer is due and not yet released by the sweep."
    )
    gauge.add_metric([], due["n"])
    yield gauge
    lag = GaugeMetricFamily(
        "cairn_timer_sweep_lag_seconds",
        "How long the oldest due timer has waited for the sweep (0 when none is due).",
    )
    lag.add_metric([], (now - due["oldest"]).total_seconds() if due["oldest"] else 0.0)
    yield lag
    released = GaugeMetricFamily(
        "cairn_runs_released",
        "Runs the sweep released that wait for room in their queue (dispatch.dispatch_released).",
    )
    released.add_metric(
        [],
        Run.objects.filter(
            status=RunStatus.RUNNING, lease_until__isnull=True, queued_at__isnull=True
        ).count(),
    )
    yield released


def _stranded() -> Iterator[Metric]:
    gauge = GaugeMetricFamily(
        "cairn_runs_stranded",
        "Runs no timer, queue or event can wake (manage.py check_runs lists them).",
        labels=["reason"],
    )
    for reason, count in stranded.counts().items():
        gauge.add_metric([reason], count)
    yield gauge


def queue_names() -> list[str]:
    """Celery's queues: the declared ones, the default one and any a route names."""
    from config.celery import app

    names = set(app.amqp.queues) | {app.conf.task_default_queue}
    routes = app.conf.task_routes
    if isinstance(routes, dict):
        names |= {route["queue"] for route in routes.values() if isinstance(route, dict)}
    return sorted(name for name in names if name)


def _queues() -> Iterator[Metric]:
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith(("redis://", "rediss://")):
        return  # embedded: no broker, runs execute in the web process
    from kombu.transport.redis import Channel

    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    separator = options.get("sep", Channel.sep)
    steps = options.get("priority_steps", Channel.priority_steps)
    names = queue_names()
    try:
        with redis_client(broker).pipeline(transaction=False) as pipe:
            for name in names:
                for step in steps:
                    # kombu keeps one list per priority step: "<queue>", "<queue>\x06\x163", …
                    pipe.llen(f"{name}{separator}{step}" if step else name)
            pipe.hlen(options.get("unacked_key", "unacked"))
            lengths = pipe.execute()
    except RedisError as error:
        # The rest of the page still answers, cairn_dependency_failures_total included.
        dependency_log.failed("redis", "reading the queue depths for /metrics", error)
        return
    dependency_log.succeeded("redis")
    depth = GaugeMetricFamily(
        "cairn_queue_depth", "Celery messages waiting in Redis, per queue.", labels=["queue"]
    )
    for index, name in enumerate(names):
        depth.add_metric([name], sum(lengths[index * len(steps) : (index + 1) * len(steps)]))
    yield depth
    unacked = GaugeMetricFamily(
        "cairn_queue_unacked", "Messages a worker has taken and not yet acknowledged."
    )
    unacked.add_metric([], lengths[-1])
    yield unacked


def _dependencies() -> Iterator[Metric]:
    dependency_log.flush()  # this process's latest failures too
    stored = dict(DependencyFailures.objects.values_list("dependency", "failures"))
    counter = CounterMetricFamily(
        "cairn_dependency_failures",
        "Failures to reach a dependency (Redis), summed over every process; each process "
        "logs them once per DEPENDENCY_LOG_SECONDS with a count.",
        labels=["dependency"],
    )
    for name in sorted({*dependency_log.KNOWN, *stored}):
        counter.add_metric([name], stored.get(name, 0))
    yield counter


class CairnCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from _runs()
        yield from _steps()
        yield from _events()
        yield from _timers()
        yield from _stranded()
        yield from _queues()
        yield from _dependencies()


def render() -> bytes:
    """The metrics page: Cairn's numbers only (no per-process Python metrics, which
    would describe whichever web process happened to answer)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CairnCollector())
    return generate_latest(registry)
