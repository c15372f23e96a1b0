"""The Celery app. Workers and beat start from here: `celery -A config worker`.

Queues: `housekeeping` takes beat's short periodic tasks (the timer sweep,
the reaper, schedules, product metrics; CELERY_TASK_ROUTES); runs go to
`high`, `normal` or `low` by their workflow's priority (automation/dispatch.py).
A worker consuming several queues takes from the first non-empty one in the
order of QUEUE_ORDER (see QueuesInPriorityOrder), so housekeeping never
waits behind a backlog of runs, and low-priority runs never delay high ones.
"""

import os

from celery import Celery
from kombu.utils.scheduling import round_robin_cycle

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# The order workers take queues in; any other queue a worker is given comes after.
QUEUE_ORDER = ("housekeeping", "high", "normal", "low")


class QueuesInPriorityOrder(round_robin_cycle):
    """Kombu's Redis transport asks this in which order to BRPOP a worker's queues.

    Its own "priority" strategy keeps the order it is handed, but the Redis
    channel hands over a set (celery/kombu#801, celery/celery#8673), so the
    order would change from one process to the next. This one always puts
    housekeeping before high before normal before low, and never rotates: a
    worker takes a normal or low message only when no message of a queue
    before it is waiting.
    Named in CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"].
    """

    def update(self, it):
        rank = {name: index for index, name in enumerate(QUEUE_ORDER)}
        self.items[:] = sorted(it, key=lambda name: (rank.get(name, len(rank)), name))

    def rotate(self, last_used):
        """Never rotate: the order is the priority."""


app = Celery("cairn")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
