"""Point this process at the scratch database bench/peer.py leaves behind
(`cairn_bench`, the peer workflow published; Redis database 14), as the
production shape runs (Celery, queued intake). For the benchmarks that work
in one process on what peer.py set up: profile.py, drain_batches.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def use_peer_database() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/cairn_bench",
            "REDIS_URL": "redis://127.0.0.1:6379/14",
            "CAIRN_EXECUTION": "celery",
            "EVENT_INTAKE": "queued",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
