"""`manage.py check_runs [--repair]`: find runs nothing will ever move again."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from automation import stranded

EXPLAINED = {
    "no_timer_no_event": "waiting with no timer and no event to wait for",
    "held_on_a_live_workflow": "held by a pause, but the workflow is live",
    "in_flight_on_an_archived_workflow": "still in flight on an archived workflow",
}


class Command(BaseCommand):
    help = "Find runs that no timer, queue or event can wake (exit status 1 if any)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--repair", action="store_true", help="wake, release or cancel what is found"
        )

    def handle(self, *args, repair: bool = False, **options):
        found = stranded.counts()
        for reason, count in found.items():
            self.stdout.write(f"{count:>8}  {EXPLAINED[reason]}")
        if not any(found.values()):
            self.stdout.write("No stranded runs.")
            return
        if repair:
            for reason, count in stranded.repair().items():
                self.stdout.write(f"repaired {count}: {EXPLAINED[reason]}")
            return
        raise CommandError("stranded runs found; run again with --repair to move them on")
