"""What operating Cairn needs to remember across processes."""

from django.db import models

from config import dependency_log


class DependencyFailures(models.Model):
    """How often a dependency (Redis) failed, summed over every process
    (config/dependency_log.py adds each process's count about once a second).
    `/metrics` reports it as `cairn_dependency_failures_total{dependency}`."""

    dependency = models.CharField(max_length=40, primary_key=True)
    failures = models.BigIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        db_table = dependency_log.TABLE
        verbose_name = "dependency failures"
        verbose_name_plural = "dependency failures"

    def __str__(self) -> str:
        return f"{self.dependency}: {self.failures} failures"
