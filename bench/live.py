"""Live updates under load: WebSocket latency and what 200 watchers cost one web process.

Starts the production shape (one Daphne, a Celery worker with 2 processes,
PostgreSQL in a scratch database, Redis as broker and channel layer), publishes
the 5-node workflow of bench/run.py, opens N monitoring sockets
(/ws/workflows/{id}/, 200 by default) on the one web process, then enrols
contacts at a steady rate (100 runs/s by default) and prints:

- latency from a step's commit to its message arriving at a WebSocket client
  (p50, p95, worst over every step message one client received; the engine
  stamps each message when its chunk commits),
- before that, the same latency for previews, which stream each step as it
  commits (12 previews of a 100-node chain by default),
- whether every socket received the live messages, and how many,
- runs/s actually completed, and the Daphne process's RSS before and after
  opening the sockets (the memory the watchers cost).

Usage: .venv/bin/python bench/live.py [--sockets 200] [--rate 100] [--seconds 10]
Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from run import WORKFLOW  # noqa: E402  (bench/run.py: the same 5-node workflow)

VENV_BIN = Path(sys.executable).parent
PG = "postgres://postgres@127.0.0.1:5432"
DB_NAME = "cairn_bench_live"
REDIS_DB = "9"
PORT = 8124
BASE = f"http://127.0.0.1:{PORT}"
SETUP = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from builder.models import ApiKey, Membership, Workspace
workspace = Workspace.objects.create(name="Bench", slug="bench")
user = User.objects.create_user("watcher", password="watcher-pw-1")
Membership.objects.create(user=user, workspace=workspace, role="admin")
_key, raw = ApiKey.objects.create_key(workspace, "bench")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(raw, session.session_key)
"""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def manage(env, *command, stdin: str | None = None) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Watcher:
    def __init__(self, timed: bool):
        # Only timed watchers decode messages: the load generator shares the
        # machine's two cores with the server, so the others just count.
        self.timed = timed
        self.latencies: list[float] = []
        self.events = 0
        self.snapshot = False


async def watch(url: str, cookie: str, watcher: Watcher, stop: asyncio.Event) -> None:
    headers = {"Cookie": f"sessionid={cookie}", "Origin": BASE}
    async with websockets.connect(url, additional_headers=headers, max_size=None) as socket:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(socket.recv(), 0.5)
            except TimeoutError:
                continue
            now = time.time()
            if not watcher.snapshot:
                watcher.snapshot = json.loads(raw)["type"] == "snapshot"
                continue
            if not watcher.timed:
                watcher.events += raw.count('"kind": "step"')
                continue
            message = json.loads(raw)
            if message["type"] == "events":
                for event in message["events"]:
                    if event.get("kind") == "step":
                        watcher.events += 1
                        watcher.latencies.append((now - event["sent_at"]) * 1000)


def chain_graph(length: int) -> dict:
    nodes = [
        {
            "id": "start",
            "type": "trigger.event",
            "position": {"x": 0, "y": 0},
            "data": {"config": {"event": "bench_preview"}},
        }
    ]
    nodes += [
        {
            "id": f"t{n}",
            "type": "action.tag",
            "position": {"x": 0, "y": 100 * n},
            "data": {"config": {"add": [f"t{n}"]}},
        }
        for n in range(1, length)
    ]
    edges = [
        {"id": f"e{n}", "source": nodes[n - 1]["id"], "target": nodes[n]["id"]}
        for n in range(1, length)
    ]
    return {"nodes": nodes, "edges": edges, "settings": {}}  # fmt: skip


async def preview_latency(args, key: str, cookie: str) -> None:
    """Previews stream every step as it commits: latency over their step messages."""
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=BASE, headers=headers, timeout=60) as client:
        created = await client.post(
            "/api/v1/workflows/", json={"name": "chain", "draft": chain_graph(args.chain)}
        )
        created.raise_for_status()
        workflow_id = created.json()["id"]
        for _ in range(args.previews):
            run = (await client.post(f"/api/v1/workflows/{workflow_id}/preview", json={})).json()
            url = f"ws://127.0.0.1:{PORT}{run['ws']}"
            socket_headers = {"Cookie": f"sessionid={cookie}", "Origin": BASE}
            async with websockets.connect(url, additional_headers=socket_headers) as socket:
                while True:
                    message = json.loads(await asyncio.wait_for(socket.recv(), 30))
                    now = time.time()
                    if message["type"] == "events":
                        for event in message["events"]:
                            latencies.append((now - event["sent_at"]) * 1000)
                            done = event.get("run_status") == "completed"
                    else:
                        done = message.get("run_status") == "completed"
                    if done:
                        break
    print(
        f"preview: {args.previews} previews of a {args.chain}-node chain, "
        f"{len(latencies)} step messages received live: commit → WebSocket "
        f"p50 {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms, "
        f"worst {max(latencies):.0f} ms"
    )


async def drive(args, key: str, cookie: str, workflow_id: str, web_pid: int) -> None:
    await preview_latency(args, key, cookie)
    url = f"ws://127.0.0.1:{PORT}/ws/workflows/{workflow_id}/"
    watchers = [Watcher(timed=n < 5) for n in range(args.sockets)]
    stop = asyncio.Event()
    rss_before = rss_kib(web_pid)
    tasks = [asyncio.create_task(watch(url, cookie, w, stop)) for w in watchers]
    deadline = time.monotonic() + 60
    while sum(w.snapshot for w in watchers) < args.sockets:
        if time.monotonic() > deadline:
            raise SystemExit("not every socket got its snapshot within 60 s")
        await asyncio.sleep(0.1)
    rss_open = rss_kib(web_pid)

    headers = {"Authorization": f"Bearer {key}"}
    per_tick = max(1, args.rate // 10)
    total = args.rate * args.seconds
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=BASE, headers=headers, timeout=60) as client:
        for tick in range(total // per_tick):
            events = [
                {
                    "id": str(uuid.uuid4()),
                    "type": "bench_signup",
                    "contact": {
                        "email": f"u{tick}-{n}@bench.example",
                        "properties": {"plan": "pro"},
                    },
                }
                for n in range(per_tick)
            ]
            response = await client.post("/api/v1/events", json={"events": events})
            response.raise_for_status()
            await asyncio.sleep(max(0.0, started + (tick + 1) * 0.1 - time.monotonic()))
        while True:
            results = (await client.get(f"/api/v1/workflows/{workflow_id}/results")).json()
            if results["by_status"]["completed"] >= total:
                break
            await asyncio.sleep(0.2)
    seconds = time.monotonic() - started
    await asyncio.sleep(1.5)  # the last messages in flight
    rss_after = rss_kib(web_pid)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)

    first = watchers[0]
    steps_per_socket = [w.events for w in watchers]
    print(f"live: {args.sockets} socket(s) on 1 Daphne process, {total} runs at {args.rate}/s")
    print(f"  runs completed: {total / seconds:,.0f} runs/s ({total} runs in {seconds:.1f} s)")
    print(
        f"  commit → WebSocket latency over {len(first.latencies)} step messages (one client): "
        f"p50 {statistics.median(first.latencies):.0f} ms, "
        f"p95 {percentile(first.latencies, 0.95):.0f} ms, worst {max(first.latencies):.0f} ms"
    )
    timed = [value for w in watchers if w.timed for value in w.latencies]
    print(
        f"  5 timed clients: p50 {statistics.median(timed):.0f} ms, "
        f"p95 {percentile(timed, 0.95):.0f} ms; step messages per socket "
        f"min {min(steps_per_socket)}, max {max(steps_per_socket)} (all {args.sockets})"
    )
    print(
        f"  Daphne RSS: {rss_before / 1024:.0f} MiB before, {rss_open / 1024:.0f} MiB with the "
        f"sockets open ({(rss_open - rss_before) / args.sockets:.0f} KiB each), "
        f"{rss_after / 1024:.0f} MiB after the load"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--rate", type=int, default=100, help="runs enrolled per second")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--previews", type=int, default=12)
    parser.add_argument("--chain", type=int, default=100, help="nodes in the previewed chain")
    args = parser.parse_args()

    import psycopg

    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "CAIRN_EXECUTION": "celery",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CSRF_TRUSTED_ORIGINS": BASE,
    }
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(["redis-cli", "-n", REDIS_DB, "flushdb"], check=True, capture_output=True)
    manage(env, "migrate", "--noinput")
    key, cookie = manage(env, "shell", "-v", "0", "-c", SETUP).split()[-2:]

    logs = ROOT / "bench" / "results"
    logs.mkdir(parents=True, exist_ok=True)

    def spawn(name, *command):
        log = open(logs / f"live-{name}.log", "w")  # noqa: SIM115 (the process keeps it)
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    web = spawn("web", str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(PORT),
                "config.asgi:application")  # fmt: skip
    worker = spawn("worker", str(VENV_BIN / "celery"), "-A", "config", "worker", "-c", "2",
                   "--loglevel=WARNING", "--without-gossip", "--without-mingle")  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{BASE}/login/", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit("the web server did not start: see bench/results/") from None
                time.sleep(0.3)
        api = httpx.Client(base_url=BASE, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        created = api.post("/api/v1/workflows/", json={"name": "live", "draft": WORKFLOW})
        created.raise_for_status()
        workflow_id = created.json()["id"]
        api.post(f"/api/v1/workflows/{workflow_id}/publish").raise_for_status()
        asyncio.run(drive(args, key, cookie, workflow_id, web.pid))
    finally:
        for process in (web, worker):
            process.terminate()
        for process in (web, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
