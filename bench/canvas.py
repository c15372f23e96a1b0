"""How the canvas feels with a large workflow, in Debian's Chromium on this machine.

Starts the embedded server (a scratch SQLite file, nothing else), creates a
member and a workflow of N nodes (500 by default), opens the editor and prints:

- time to interactive: from navigation start until React Flow has initialised
  the canvas with every node in the store (the editor sets window.__cairn);
- frame times while panning (mouse drags) and zooming (wheel) for a few
  seconds: median, p95, worst, and frames slower than 50 ms.

Usage: .venv/bin/python bench/canvas.py [--nodes 500] [--seconds 4]
Needs the bundle built (make run or make test build it) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.e2e.graphs import big_graph  # noqa: E402

SETUP = """
import json, sys
from django.contrib.auth.models import User
from builder.models import Membership, Workspace, Workflow
workspace = Workspace.objects.create(name="Bench", slug="bench")
user = User.objects.create_user("bench", password="bench-pw-1")
Membership.objects.create(user=user, workspace=workspace, role="publisher")
graph = json.loads(sys.stdin.read())
print(Workflow.objects.create(workspace=workspace, name="Large", draft=graph).pk)
"""
FRAME_RECORDER = """() => {
  window.__frames = [];
  let last = performance.now();
  const tick = (now) => {
    window.__frames.push(now - last);
    last = now;
    window.__raf = requestAnimationFrame(tick);
  };
  window.__raf = requestAnimationFrame(tick);
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=4.0)
    options = parser.parse_args()

    from playwright.sync_api import sync_playwright

    scratch = tempfile.mkdtemp(prefix="cairn-canvas-bench-")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{scratch}/bench.sqlite3",
        "REDIS_URL": "",
        "CAIRN_EXECUTION": "embedded",
        "WORKFLOW_MAX_NODES": str(options.nodes + 10),
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    workflow_id = subprocess.run(
        [python, "manage.py", "shell", "-v", "0", "-c", SETUP],
        cwd=ROOT,
        env=env,
        input=json.dumps(big_graph(options.nodes)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    server = subprocess.Popen(
        [
            str(Path(python).parent / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{base}/login/")
            page.get_by_label("Username").fill("bench")
            page.get_by_label("Password").fill("bench-pw-1")
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/workflows/")
            loads = []
            for _ in range(3):
                page.goto(f"{base}/workflows/{workflow_id}/")
                page.wait_for_function(f"window.__cairn?.nodes === {options.nodes}")
                page.locator(".react-flow__node").first.wait_for()
                loads.append(page.evaluate("window.__cairn.ready"))
            rendered = page.locator(".react-flow__node").count()

            box = page.locator(".react-flow__pane").bounding_box()
            page.evaluate(FRAME_RECORDER)
            stop = time.monotonic() + options.seconds
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            direction = 1
            while time.monotonic() < stop:
                page.mouse.move(x, y)
                page.mouse.down()
                page.mouse.move(x - 250 * direction, y - 120 * direction, steps=15)
                page.mouse.up()
                page.mouse.wheel(0, -240 * direction)
                page.wait_for_timeout(50)
                page.mouse.wheel(0, 240 * direction)
                direction = -direction
            frames = page.evaluate("cancelAnimationFrame(window.__raf), window.__frames")[1:]
            browser.close()
    finally:
        server.terminate()
        server.wait(10)

    print(f"canvas: {options.nodes}-node workflow, {CHROMIUM} headless, 1280x800")
    print(
        f"  time to interactive: {min(loads):.0f} ms best, "
        f"{statistics.median(loads):.0f} ms median of {len(loads)} loads; "
        f"{rendered} nodes rendered (only the visible ones are)"
    )
    print(
        f"  pan+zoom for {options.seconds:.0f} s: {len(frames)} frames, "
        f"median {statistics.median(frames):.1f} ms, p95 {percentile(frames, 0.95):.1f} ms, "
        f"worst {max(frames):.1f} ms, {sum(1 for f in frames if f > 50)} frames over 50 ms"
    )


if __name__ == "__main__":
    main()
