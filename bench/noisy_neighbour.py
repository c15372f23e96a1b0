"""One workspace's heavy template against another workspace's single event.

Starts the production shape as `make run` does (honcho on the Procfile:
uvicorn web processes, a Celery worker, beat; queued event intake) on a
scratch PostgreSQL database `cairn_bench_noisy` and Redis database 13
(`--redis-db`), with two workspaces:

- `noisy`: trigger.event `noisy` → update contact, whose property is a
  template that burns its whole CPU budget (`--template budget`, the
  default: 9,000 loops each summing 9,999 numbers, stopped by
  TEMPLATE_MAX_SECONDS) or the issue's nested `range(99999)` loops, sized
  by the contact's data (`--template issue`, stopped by
  TEMPLATE_MAX_ITERATIONS at once);
  `--noisy-rate` events a second, one per request, for the whole run;
- `quiet`: trigger.event `signup` → tag → end. After `--warmup` seconds of
  noise, one event every `--interval` seconds, `--samples` of them.

For each quiet event it takes the time from its POST to its run's
`finished_at`, and prints p50/p99/max, how many noisy runs failed on the
budget meanwhile (and with which error), and the machine load.

Usage: .venv/bin/python bench/noisy_neighbour.py [--samples 40] [--noisy-rate 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as base

ROOT = base.ROOT
DB_NAME = "cairn_bench_noisy"
DSN = f"{base.PG}/{DB_NAME}"
PORT = 8131
BASE = f"http://127.0.0.1:{PORT}"

TEMPLATES = {
    "budget": "{% for a in range(9000) %}{{ (range(9999)|sum) and '' }}{% endfor %}",
    # The loops, sized by the contact (n = 99,999): validation refuses
    # literal ranges this size at save time, so only the budget stops these.
    "issue": "{% for a in range(contact.n) %}{% for b in range(contact.n) %}"
    "{% endfor %}{% endfor %}",
}


def noisy_workflow(template: str) -> dict:
    return {
        "nodes": [
            {"id": "start", "type": "trigger.event", "position": {"x": 0, "y": 0},
             "data": {"config": {"event": "noisy"}}},
            {"id": "heavy", "type": "action.update_contact", "position": {"x": 0, "y": 120},
             "data": {"config": {"properties": {"note": template}}}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "heavy"}],
        "settings": {"reenrollment": "always"},
    }  # fmt: skip


QUIET_WORKFLOW = {
    "nodes": [
        {"id": "start", "type": "trigger.event", "position": {"x": 0, "y": 0},
         "data": {"config": {"event": "signup"}}},
        {"id": "tag", "type": "action.tag", "position": {"x": 0, "y": 120},
         "data": {"config": {"add": ["welcomed"]}}},
        {"id": "end", "type": "flow.end", "position": {"x": 0, "y": 240}, "data": {"config": {}}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "tag"},
              {"id": "e2", "source": "tag", "target": "end"}],
    "settings": {"reenrollment": "always"},
}  # fmt: skip

SETUP = """
from builder.models import ApiKey, Role, Workspace
for slug in ("noisy", "quiet"):
    ws = Workspace.objects.create(name=slug.title(), slug=slug)
    _key, raw = ApiKey.objects.create_key(ws, name="bench", role=Role.ADMIN)
    print(slug, raw)
"""


def manage(env: dict, *command: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def publish(key: str, name: str, graph: dict) -> None:
    with httpx.Client(base_url=BASE, headers={"Authorization": f"Bearer {key}"}) as client:
        created = client.post("/api/v1/workflows/", json={"name": name, "draft": graph})
        created.raise_for_status()
        client.post(f"/api/v1/workflows/{created.json()['id']}/publish").raise_for_status()


def event(kind: str) -> dict:
    return {
        "id": f"{kind}-{uuid.uuid4()}",
        "type": kind,
        "contact": {
            "email": f"{kind}-{uuid.uuid4().hex[:10]}@example.test",
            "properties": {"n": 99999},
        },
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--noisy-rate", type=float, default=20.0, help="noisy events a second")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--template", choices=sorted(TEMPLATES), default="budget")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) + 1)
    args = parser.parse_args()

    env = {
        **os.environ,
        "DATABASE_URL": DSN,
        "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
        "CAIRN_EXECUTION": "celery",
        "EVENT_INTAKE": "queued",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PORT": str(PORT),
        "WEB_CONCURRENCY": "2",
        "CELERY_CONCURRENCY": str(args.workers),
    }
    env.pop("DATABASE_CONN_MAX_AGE", None)
    with psycopg.connect(f"{base.PG}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(["redis-cli", "-n", str(args.redis_db), "flushdb"], check=True)
    manage(env, "migrate", "--noinput")
    keys = {
        words[0]: words[1]
        for words in (line.split() for line in manage(env, "shell", "-c", SETUP).splitlines())
        if len(words) == 2 and words[0] in ("noisy", "quiet")
    }
    logs = ROOT / "bench" / "results"
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / "honcho-noisy.log", "w")  # noqa: SIM115
    honcho = subprocess.Popen(
        [str(base.VENV_BIN / "honcho"), "start", "-f", str(ROOT / "Procfile")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{BASE}/api/schema/", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit("the web server did not start: see bench/results/") from None
                time.sleep(0.3)
        publish(keys["noisy"], "heavy", noisy_workflow(TEMPLATES[args.template]))
        publish(keys["quiet"], "welcome", QUIET_WORKFLOW)
        time.sleep(2)
        print(
            f"shape: 2 uvicorn web processes, Celery worker with {args.workers} processes, beat; "
            f"noisy: {args.noisy_rate:g} events/s, template {args.template!r}; "
            f"load at start: {os.getloadavg()[0]:.2f}",
            flush=True,
        )

        sent = {"noisy": 0}

        def noise() -> None:
            headers = {"Authorization": f"Bearer {keys['noisy']}"}
            with httpx.Client(base_url=BASE, headers=headers, timeout=30) as client:
                next_at = time.monotonic()
                while not stop.is_set():
                    client.post("/api/v1/events", json=event("noisy")).raise_for_status()
                    sent["noisy"] += 1
                    next_at += 1 / args.noisy_rate
                    time.sleep(max(0.0, next_at - time.monotonic()))

        threading.Thread(target=noise, daemon=True).start()
        time.sleep(args.warmup)

        latencies: list[float] = []
        late: list[str] = []
        headers = {"Authorization": f"Bearer {keys['quiet']}"}
        with (
            httpx.Client(base_url=BASE, headers=headers, timeout=30) as client,
            psycopg.connect(DSN, autocommit=True) as db,
        ):
            for _ in range(args.samples):
                body = event("signup")
                posted = datetime.now(UTC)
                client.post("/api/v1/events", json=body).raise_for_status()
                email = body["contact"]["email"]
                wait_until = time.monotonic() + 120
                finished = None
                while finished is None and time.monotonic() < wait_until:
                    row = db.execute(
                        "SELECT r.finished_at FROM automation_run r JOIN automation_contact c "
                        "ON c.id = r.contact_id WHERE c.email = %s AND r.status = 'completed'",
                        (email,),
                    ).fetchone()
                    finished = row[0] if row else None
                    if finished is None:
                        time.sleep(0.01)
                if finished is None:
                    late.append(email)
                    continue
                latencies.append((finished - posted).total_seconds())
                time.sleep(max(0.0, args.interval - latencies[-1]))
            failed = db.execute(
                "SELECT r.error, count(*) FROM automation_run r JOIN builder_workspace w "
                "ON w.id = r.workspace_id WHERE w.slug = 'noisy' GROUP BY r.error, r.status"
            ).fetchall()
        stop.set()
        print(
            f"quiet workspace, event → run completed ({len(latencies)} events): "
            f"p50 {percentile(latencies, 50) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 99) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms; not completed within 120 s: {len(late)}"
        )
        print(f"noisy events sent: {sent['noisy']}; noisy runs by error:")
        for error, count in failed:
            print(f"  {count:6d}  {error[:150] or '(no error: not finished yet)'}")
        print(f"machine load (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        stop.set()
        os.killpg(honcho.pid, 15)
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, 9)
        log.close()


if __name__ == "__main__":
    main()
