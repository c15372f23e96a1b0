"""`manage.py runmode`: what `make run` will start, from the same settings the server reads."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ops.runmode import as_shell, describe


class Command(BaseCommand):
    requires_system_checks = []  # prints settings only; `make run` evaluates its output
    help = (
        "Print the mode `make run` starts (production or embedded), the database, Redis and "
        "URL, all resolved from the environment and .env as the server resolves them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="", help="Bind address (default: HOST or 127.0.0.1).")
        parser.add_argument("--port", default="", help="Port (default: PORT or 8000).")
        parser.add_argument(
            "--shell",
            action="store_true",
            help="Print `export` lines for the Makefile to evaluate instead of a summary.",
        )

    def handle(self, *args, **options):
        run_mode = describe(options["host"] or None, options["port"] or None)
        for warning in run_mode.warnings:
            self.stderr.write(self.style.WARNING(warning))
        if options["shell"]:
            self.stdout.write(as_shell(run_mode))
            return
        self.stdout.write(f"mode: {run_mode.mode}")
        self.stdout.write(f"database: {run_mode.database}")
        self.stdout.write(f"redis: {run_mode.redis or 'none'}")
        self.stdout.write(f"settings: the environment, then {run_mode.settings_file}")
        self.stdout.write(f"url: {run_mode.url}")
