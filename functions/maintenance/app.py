"""Scheduled upkeep (EventBridge): compaction + garbage collection, and the bucket backup.

The schedule's input names the tasks (``{"tasks": ["compact"]}``); a plain EventBridge
"Scheduled Event" (or ``detail.tasks``) works too, and no tasks means all of them. The run
stops starting new namespaces a minute before the function's timeout; the next run goes on.
"""

import os

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from membucket import maintenance
from membucket.lambda_support import configure_logging, invocation_metrics, logger, make_membucket, metrics, tracer
from membucket.store import open_store

MB = make_membucket()
BACKUP_URL = MB.settings.backup_url or os.environ.get("MEMBUCKET_BACKUP_STORE")  # the older name still works
BACKUP = open_store(BACKUP_URL, endpoint_url=MB.settings.endpoint_url, region=MB.settings.region) if BACKUP_URL else None
configure_logging()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event, context):
    tasks = event.get("tasks") or (event.get("detail") or {}).get("tasks") or maintenance.TASKS
    with invocation_metrics("maintenance"):
        report = maintenance.run(MB, tasks, backup_store=BACKUP, time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    failed = len(report.get("compact", {}).get("failed", []))
    metrics.add_metric(name="MaintenanceFailures", unit=MetricUnit.Count, value=failed)
    logger.info("maintenance done", extra={"report": report})
    return report
