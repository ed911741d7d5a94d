"""The maintenance function's handler (EventBridge): compaction + garbage collection, and the bucket backup.

The schedule's input names the tasks (``{"tasks": ["compact"]}``); a plain EventBridge
"Scheduled Event" (or ``detail.tasks``) works too, and no tasks means all of them. The run
stops starting new namespaces a minute before the function's timeout; the next run goes on.
"""

from __future__ import annotations

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from ..store import open_store
from .handlers import make_membucket
from .observe import configure_logging, invocation_metrics, logger, metrics, tracer

__all__ = ["maintenance_handler"]


def maintenance_handler():
    """The Lambda handler, with the Membucket and backup store built once per container.

    The backup target is ``Settings.backup_url`` (``MEMBUCKET_BACKUP_URL``, or the older
    ``MEMBUCKET_BACKUP_STORE``); unset means no backup.
    """
    from .. import maintenance  # here, not at module load: the HTTP functions import this package too

    mb = make_membucket()
    s = mb.settings
    backup = open_store(s.backup_url, endpoint_url=s.endpoint_url, region=s.region) if s.backup_url else None
    configure_logging()

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event, context):
        tasks = event.get("tasks") or (event.get("detail") or {}).get("tasks") or maintenance.TASKS
        with invocation_metrics("maintenance"):
            report = maintenance.run(mb, tasks, backup_store=backup, time_left=lambda: context.get_remaining_time_in_millis() / 1000)
        failed = len(report.get("compact", {}).get("failed", []))
        metrics.add_metric(name="MaintenanceFailures", unit=MetricUnit.Count, value=failed)
        logger.info("maintenance done", extra={"report": report})
        return report

    lambda_handler.mb, lambda_handler.backup = mb, backup
    return lambda_handler
