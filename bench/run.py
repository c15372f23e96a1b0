"""Throughput of the production shape on this machine.

Starts Daphne, a Celery worker with 2 processes and beat against a scratch
PostgreSQL database and Redis, then measures and prints:

- events/s accepted by POST /api/v1/events, in batches of 100 and one by one
  (event types that enrol nobody: the cost of ingest itself);
- end to end: events that each enrol a contact in a 5-node workflow
  (trigger → if → tag → update contact → end), from the first POST until
  every run has completed: runs/s and steps/s.

Usage: make bench   (or .venv/bin/python bench/run.py --runs 5000)
Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PG = "postgres://postgres@127.0.0.1:5432"
DB_NAME = "cairn_bench"
PORT = 8123
BASE = f"http://127.0.0.1:{PORT}"

WORKFLOW = {
    "nodes": [
        {"id": "start", "type": "trigger.event", "position": {"x": 0, "y": 0},
         "data": {"config": {"event": "bench_signup"}}},
        {"id": "is_pro", "type": "condition.if", "position": {"x": 0, "y": 120},
         "data": {"config": {"match": "all", "rules": [
             {"field": "contact.properties.plan", "op": "eq", "value": "pro"}]}}},
        {"id": "tag", "type": "action.tag", "position": {"x": 0, "y": 240},
         "data": {"config": {"add": ["bench"]}}},
        {"id": "update", "type": "action.update_contact", "position": {"x": 0, "y": 360},
         "data": {"config": {"properties": {"welcomed": "yes"}}}},
        {"id": "end", "type": "flow.end", "position": {"x": 0, "y": 480},
         "data": {"config": {}}},
        {"id": "skip", "type": "action.tag", "position": {"x": 200, "y": 240},
         "data": {"config": {"add": ["not-pro"]}}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "is_pro"},
        {"id": "e2", "source": "is_pro", "sourceHandle": "yes", "target": "tag"},
        {"id": "e3", "source": "is_pro", "sourceHandle": "no", "target": "skip"},
        {"id": "e4", "source": "tag", "target": "update"},
        {"id": "e5", "source": "update", "target": "end"},
    ],
    "settings": {"reenrollment": "always"},
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batched-events", type=int, default=20000)
    parser.add_argument("--single-events", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=6000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    args = parser.parse_args()

    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": "redis://127.0.0.1:6379/14",
        "CAIRN_EXECUTION": "celery",
        "DATABASE_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    logs = ROOT / "bench" / "results"
    logs.mkdir(parents=True, exist_ok=True)
    _reset_database(env)
    key = _setup(env)
    processes = _start(env, logs)
    try:
        _wait_http()
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=BASE, headers=headers, timeout=60) as client:
            workflow = client.post("/api/v1/workflows/", json={"name": "bench", "draft": WORKFLOW})
            workflow.raise_for_status()
            workflow_id = workflow.json()["id"]
            client.post(f"/api/v1/workflows/{workflow_id}/publish").raise_for_status()

        print(f"machine: {os.cpu_count()} cores; web: 1 Daphne; workers: 2 Celery processes + beat")
        rate = _post_events(headers, args.batched_events, 100, args.clients, "bench_view")
        print(
            f"events accepted, batches of 100: {rate:,.0f} events/s ({args.batched_events} events)"
        )
        rate = _post_events(headers, args.single_events, 1, args.clients * 2, "bench_view")
        print(
            f"events accepted, one per request: {rate:,.0f} events/s ({args.single_events} events)"
        )
        runs, steps, seconds = _end_to_end(env, headers, args.runs, args.clients, workflow_id)
        print(
            f"end to end, 5-node workflow: {runs / seconds:,.0f} runs/s, {steps / seconds:,.0f} "
            f"steps/s ({runs} runs, {steps} steps in {seconds:.1f} s, from first POST to last run "
            "completed)"
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _manage(env, *command) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout


def _reset_database(env) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=True, capture_output=True)
    _manage(env, "migrate", "--noinput")


def _setup(env) -> str:
    _manage(env, "bootstrap")
    output = _manage(env, "create_api_key", "default", "bench")
    return next(word for word in output.split() if word.startswith("cairn_"))


def _start(env, logs: Path) -> list[subprocess.Popen]:
    def spawn(name, *command):
        log = open(logs / f"{name}.log", "w")  # noqa: SIM115 (the process keeps it)
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    return [
        spawn("web", str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(PORT),
              "config.asgi:application"),
        spawn("worker", str(VENV_BIN / "celery"), "-A", "config", "worker", "--concurrency=2",
              "--loglevel=WARNING", "--without-gossip", "--without-mingle"),
        spawn("beat", str(VENV_BIN / "celery"), "-A", "config", "beat", "--loglevel=WARNING"),
    ]  # fmt: skip


def _wait_http() -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{BASE}/api/schema/", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("the web server did not start: see bench/results/web.log")


def _events(count: int, event_type: str, properties: dict | None = None) -> list[dict]:
    return [
        {
            "id": str(uuid.uuid4()),
            "type": event_type,
            "contact": {"email": f"user{i}@bench.example", "properties": properties or {}},
            "data": {"n": i},
        }
        for i in range(count)
    ]


def _post_events(headers, total, batch, clients, event_type, properties=None) -> float:
    events = _events(total, event_type, properties)
    bodies = [
        {"events": events[i : i + batch]} if batch > 1 else events[i]
        for i in range(0, total, batch)
    ]

    local = threading.local()

    def post(body):
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=BASE, headers=headers, timeout=60)
        response = local.client.post("/api/v1/events", json=body)
        if response.status_code != 202:
            raise SystemExit(f"POST /api/v1/events: {response.status_code} {response.text[:300]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, bodies))
    return total / (time.perf_counter() - started)


def _end_to_end(env, headers, runs: int, clients: int, workflow_id: str):
    import psycopg

    started = time.perf_counter()
    _post_events(headers, runs, 100, clients, "bench_signup", properties={"plan": "pro"})
    posted = time.perf_counter() - started
    print(f"  (the {runs} enrolling events were all accepted after {posted:.1f} s)")
    with psycopg.connect(f"{PG}/{DB_NAME}") as connection:
        while True:
            done, total = connection.execute(
                "SELECT count(*) FILTER (WHERE status = 'completed'), count(*) "
                "FROM automation_run WHERE workflow_id = %s",
                (workflow_id,),
            ).fetchone()
            connection.commit()
            if total >= runs and done >= total:
                break
            if time.perf_counter() - started > 600:
                raise SystemExit(f"only {done}/{total} runs completed after 600 s")
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        (steps,) = connection.execute(
            "SELECT count(*) FROM automation_step s JOIN automation_run r ON r.id = s.run_id "
            "WHERE r.workflow_id = %s",
            (workflow_id,),
        ).fetchone()
    return total, steps, seconds


if __name__ == "__main__":
    main()
