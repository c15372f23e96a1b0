"""Cairn's production shape, as `make run` starts it, under the peer harness's loader.

Starts honcho on the Procfile (uvicorn web processes, a Celery worker, beat)
against a scratch PostgreSQL database `cairn_bench` and Redis database 14,
publishes the peer workflow (trigger.event `bench` → condition.if
`event.data.score gt 50` → update_contact hot / cold → flow.end,
re-enrolment always), and runs one of:

- `single`: ../shared/peers/bench.py at --concurrency, one event per request;
- `batched`: batches of 100 events: accepted events/s, then completed runs/s
  end to end (first POST to last run completed);
- `timers`: --timers runs parked on a wait that falls due within one minute;
  p99 lateness of their release (the wait step's finish minus its due time).

Throughout, a thread samples `count(*) from pg_stat_activity where datname =
'cairn_bench'` every 100 ms and prints the maximum; at the end it prints RSS
of every process of the shape, and Redis memory.

Usage: .venv/bin/python bench/peer.py single --concurrency 1,16,64
       .venv/bin/python bench/peer.py batched --runs 20000
       .venv/bin/python bench/peer.py timers --timers 200000
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as base

ROOT = base.ROOT
PEERS = ROOT.parent / "shared" / "peers"
if not PEERS.exists():
    PEERS = Path("/work/shared/peers")
DSN = f"{base.PG}/{base.DB_NAME}"

SCORE = "{{ event.data.score }}"
PEER_WORKFLOW = {
    "nodes": [
        {"id": "start", "type": "trigger.event", "position": {"x": 0, "y": 0},
         "data": {"config": {"event": "bench"}}},
        {"id": "score", "type": "condition.if", "position": {"x": 0, "y": 120},
         "data": {"config": {"match": "all", "rules": [
             {"field": "event.data.score", "op": "gt", "value": 50}]}}},
        {"id": "hot", "type": "action.update_contact", "position": {"x": -100, "y": 240},
         "data": {"config": {"properties": {"segment": "hot", "score": SCORE}}}},
        {"id": "cold", "type": "action.update_contact", "position": {"x": 100, "y": 240},
         "data": {"config": {"properties": {"segment": "cold", "score": SCORE}}}},
        {"id": "end", "type": "flow.end", "position": {"x": 0, "y": 360}, "data": {"config": {}}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "score"},
        {"id": "e2", "source": "score", "sourceHandle": "yes", "target": "hot"},
        {"id": "e3", "source": "score", "sourceHandle": "no", "target": "cold"},
        {"id": "e4", "source": "hot", "target": "end"},
        {"id": "e5", "source": "cold", "target": "end"},
    ],
    "settings": {"reenrollment": "always"},
}  # fmt: skip

TIMER_WORKFLOW = {
    "nodes": [
        {"id": "start", "type": "trigger.event", "position": {"x": 0, "y": 0},
         "data": {"config": {"event": "timer"}}},
        {"id": "wait", "type": "wait.delay", "position": {"x": 0, "y": 120},
         "data": {"config": {"amount": 1, "unit": "days"}}},
        {"id": "end", "type": "flow.end", "position": {"x": 0, "y": 240}, "data": {"config": {}}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "wait"},
              {"id": "e2", "source": "wait", "target": "end"}],
    "settings": {"reenrollment": "always"},
}  # fmt: skip


class ConnectionSampler(threading.Thread):
    """The most connections the shape held to its database, sampled every 100 ms."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self.stopped = threading.Event()

    def run(self):
        with psycopg.connect(DSN, autocommit=True) as connection:
            while not self.stopped.is_set():
                (count,) = connection.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (base.DB_NAME,),
                ).fetchone()
                self.peak = max(self.peak, count)
                time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["single", "batched", "timers"])
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--runs", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--timers", type=int, default=200000)
    parser.add_argument("--web", type=int, default=os.cpu_count() or 2, help="web processes")
    parser.add_argument(
        "--workers",
        type=int,
        default=(os.cpu_count() or 2) + 1,
        help="Celery worker processes (default: the Procfile's, cores + 1)",
    )
    parser.add_argument("--json-out", default="")
    args = parser.parse_args()

    env = {
        **os.environ,
        "DATABASE_URL": DSN,
        "REDIS_URL": "redis://127.0.0.1:6379/14",
        "CAIRN_EXECUTION": "celery",
        "EVENT_INTAKE": "queued",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PORT": str(base.PORT),
        "WEB_CONCURRENCY": str(args.web),
        "CELERY_CONCURRENCY": str(args.workers),
    }
    env.pop("DATABASE_CONN_MAX_AGE", None)
    base._reset_database(env)
    key = base._setup(env)
    logs = ROOT / "bench" / "results"
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / f"honcho-{args.mode}.log", "w")  # noqa: SIM115
    honcho = subprocess.Popen(
        [str(base.VENV_BIN / "honcho"), "start", "-f", str(ROOT / "Procfile")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    sampler = ConnectionSampler()
    try:
        base._wait_http()
        headers = {"Authorization": f"Bearer {key}"}
        graph = TIMER_WORKFLOW if args.mode == "timers" else PEER_WORKFLOW
        with httpx.Client(base_url=base.BASE, headers=headers, timeout=60) as client:
            created = client.post("/api/v1/workflows/", json={"name": args.mode, "draft": graph})
            created.raise_for_status()
            workflow_id = created.json()["id"]
            client.post(f"/api/v1/workflows/{workflow_id}/publish").raise_for_status()
        time.sleep(2)
        sampler.start()
        print(
            f"shape: {args.web} uvicorn web processes, Celery worker with {args.workers} "
            f"processes, beat; load at start: {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        if args.mode == "single":
            single(args, key, workflow_id, honcho.pid)
        elif args.mode == "batched":
            batched(args, headers, workflow_id)
        else:
            timers(args, headers, workflow_id)
        print(f"database connections held by the shape, peak: {sampler.peak}")
        print(f"machine load (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        rss(honcho.pid)
        memory = subprocess.run(
            ["redis-cli", "-n", "14", "info", "memory"], capture_output=True, text=True
        ).stdout
        used = next(line for line in memory.splitlines() if line.startswith("used_memory_human"))
        print(f"redis {used}")
    finally:
        sampler.stopped.set()
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)


def completed_runs_cmd(workflow_id: str) -> str:
    return (
        f'psql -qtA {DSN} -c "SELECT count(*) FROM automation_run '
        f"WHERE workflow_id = '{workflow_id}' AND status = 'completed'\""
    )


def single(args, key, workflow_id, honcho_pid) -> None:
    command = [
        sys.executable, str(PEERS / "bench.py"), "--label", "cairn",
        "--url", f"{base.BASE}/api/v1/events",
        "-H", f"Authorization: Bearer {key}", "-H", "Content-Type: application/json",
        "--body", '{"id":"b{{uuid}}","type":"bench","contact":{"email":"user{{seq}}@example.test"},'
                  '"data":{"score":{{randint:0:100}}}}',
        "--concurrency", args.concurrency, "--duration", str(args.duration), "--warmup", "3",
        "--count-cmd", completed_runs_cmd(workflow_id),
        "--pids-cmd", f"echo {honcho_pid}",
    ]  # fmt: skip
    if args.json_out:
        command += ["--json-out", args.json_out]
    subprocess.run(command, check=True)


def batched(args, headers, workflow_id) -> None:
    rate = base._post_events(headers, 20000, 100, args.clients, "bench_view")
    print(f"events accepted, batches of 100 (20,000 events, no workflow listens): {rate:,.0f}/s")
    # Let the drain of those finish before timing the runs.
    wait_no_pending()
    started = time.perf_counter()
    bodies = [
        {"events": [
            {"id": f"r{n}-{i}", "type": "bench",
             "contact": {"email": f"user{n * 100 + i}@bench.example"},
             "data": {"score": (n * 100 + i) % 101}}
            for i in range(100)]}
        for n in range(args.runs // 100)
    ]  # fmt: skip
    accepted_after = post_all(headers, bodies, args.clients)
    with psycopg.connect(DSN, autocommit=True) as connection:
        while True:
            (done,) = connection.execute(
                "SELECT count(*) FROM automation_run WHERE workflow_id = %s "
                "AND status = 'completed'",
                (workflow_id,),
            ).fetchone()
            if done >= args.runs:
                break
            if time.perf_counter() - started > 900:
                raise SystemExit(f"only {done}/{args.runs} runs completed after 900 s")
            time.sleep(0.05)
    seconds = time.perf_counter() - started
    print(
        f"end to end, peer workflow: {args.runs} events in batches of 100 accepted in "
        f"{accepted_after:.1f} s ({args.runs / accepted_after:,.0f} events/s while runs execute); "
        f"{args.runs} runs completed in {seconds:.1f} s = {args.runs / seconds:,.0f} runs/s"
    )


def post_all(headers, bodies, clients) -> float:
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()

    def post(body):
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base.BASE, headers=headers, timeout=60)
        response = local.client.post("/api/v1/events", json=body)
        if response.status_code != 202:
            raise SystemExit(f"POST /api/v1/events: {response.status_code} {response.text[:300]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, bodies))
    return time.perf_counter() - started


def wait_no_pending() -> None:
    with psycopg.connect(DSN, autocommit=True) as connection:
        while connection.execute("SELECT count(*) FROM automation_pendingevent").fetchone()[0]:
            time.sleep(0.2)


def timers(args, headers, workflow_id) -> None:
    """One run enrolled by the engine and parked on its wait, cloned (run and
    steps) to --timers runs, then given due times spread over one minute.

    Release = the sweep's compare-and-set waiting → running, stamped by a
    trigger on automation_run (clock_timestamp() of the row's update);
    lateness = release - due. Execution of the released runs goes on after
    the measure and is not waited for."""
    with httpx.Client(base_url=base.BASE, headers=headers, timeout=60) as client:
        client.post(
            "/api/v1/events",
            json={"id": "t0", "type": "timer", "contact": {"email": "timer@bench.example"}},
        ).raise_for_status()
    with psycopg.connect(DSN, autocommit=True) as connection:
        while True:
            row = connection.execute(
                "SELECT id FROM automation_run WHERE workflow_id = %s AND status = 'waiting'",
                (workflow_id,),
            ).fetchone()
            if row:
                break
            time.sleep(0.1)
        template = row[0]
        run_columns = columns(connection, "automation_run")
        step_columns = [c for c in columns(connection, "automation_step") if c != "id"]
        started = time.perf_counter()
        with connection.transaction():
            connection.execute(
                "CREATE TABLE bench_due AS SELECT gen_random_uuid() AS id, "
                "random() * 60 AS offset_s, NULL::timestamptz AS due "
                "FROM generate_series(1, %s)",
                (args.timers,),
            )
            picks = {"id": "c.id", "current_step_id": "NULL"}
            connection.execute(
                f"INSERT INTO automation_run ({', '.join(run_columns)}) SELECT "
                + ", ".join(picks.get(c, f"r.{c}") for c in run_columns)
                + " FROM bench_due c, automation_run r WHERE r.id = %s",
                (template,),
            )
            connection.execute(
                f"INSERT INTO automation_step ({', '.join(step_columns)}) SELECT "
                + ", ".join("c.id" if c == "run_id" else f"s.{c}" for c in step_columns)
                + " FROM bench_due c, automation_step s WHERE s.run_id = %s",
                (template,),
            )
            connection.execute(
                "UPDATE automation_run r SET current_step_id = s.id FROM automation_step s "
                "WHERE s.run_id = r.id AND s.node_id = 'wait' "
                "AND r.id IN (SELECT id FROM bench_due)"
            )
        connection.execute(
            "CREATE TABLE bench_release (id uuid PRIMARY KEY, released_at timestamptz)"
        )
        connection.execute(
            "CREATE FUNCTION bench_mark() RETURNS trigger AS $$ BEGIN "
            "IF OLD.status = 'waiting' AND NEW.status = 'running' THEN "
            "INSERT INTO bench_release VALUES (NEW.id, clock_timestamp()) "
            "ON CONFLICT DO NOTHING; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        connection.execute(
            "CREATE TRIGGER bench_mark AFTER UPDATE OF status ON automation_run "
            "FOR EACH ROW EXECUTE FUNCTION bench_mark()"
        )
        written = time.perf_counter() - started
        lead = 15  # seconds between this commit and the first due time
        with connection.transaction():
            connection.execute(
                f"UPDATE bench_due SET due = now() + interval '{lead} seconds' "
                "+ offset_s * interval '1 second'"
            )
            connection.execute(
                "UPDATE automation_run r SET resume_at = d.due FROM bench_due d WHERE r.id = d.id"
            )
        print(
            f"{args.timers:,} waiting runs written in {written:.1f} s, due "
            f"{lead}-{lead + 60} s from now",
            flush=True,
        )
        redis_before = redis_used()
        peak_redis = redis_before
        deadline = time.monotonic() + lead + 60 + 300
        while time.monotonic() < deadline:
            (released,) = connection.execute("SELECT count(*) FROM bench_release").fetchone()
            peak_redis = max(peak_redis, redis_used())
            if released >= args.timers:
                break
            time.sleep(1)
        redis_end = redis_used()
        p50, p99, worst, count = connection.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY x), max(x), count(*) FROM ("
            "SELECT extract(epoch FROM r.released_at - d.due) AS x FROM bench_due d "
            "JOIN bench_release r ON r.id = d.id) lateness"
        ).fetchone()
        (completed,) = connection.execute(
            "SELECT count(*) FROM automation_run r JOIN bench_due d ON d.id = r.id "
            "WHERE r.status = 'completed'"
        ).fetchone()
    print(
        f"timers: {count:,} of {args.timers:,} runs released; lateness (release - due): "
        f"p50 {p50:.2f} s, p99 {p99:.2f} s, worst {worst:.2f} s; "
        f"{completed:,} completed by then"
    )
    mib = 2**20
    print(
        f"redis used_memory: before {redis_before / mib:.1f} MiB, peak {peak_redis / mib:.1f} "
        f"MiB, when all were released {redis_end / mib:.1f} MiB"
    )


def columns(connection, table: str) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        )
    ]


def redis_used() -> int:
    out = subprocess.run(
        ["redis-cli", "-n", "14", "info", "memory"], capture_output=True, text=True
    ).stdout
    return int(
        next(line.split(":")[1] for line in out.splitlines() if line.startswith("used_memory:"))
    )


def rss(root: int) -> None:
    out = subprocess.run(["ps", "-eo", "pid,ppid,rss,args"], capture_output=True, text=True).stdout
    rows = [line.split(None, 3) for line in out.splitlines()[1:]]
    children: dict[int, list] = {}
    for pid, ppid, kib, command in rows:
        children.setdefault(int(ppid), []).append((int(pid), int(kib), command))

    def walk(pid):
        for child, kib, command in children.get(pid, []):
            yield child, kib, command
            yield from walk(child)

    print("RSS per process:")
    for pid, kib, command in walk(root):
        if command.startswith(("/bin/sh", "sh ")) or "while true" in command:
            continue
        print(f"  {kib / 1024:6.0f} MiB  {pid:>7}  {command[:110]}")


if __name__ == "__main__":
    main()
