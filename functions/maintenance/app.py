"""Scheduled upkeep (EventBridge): compaction + garbage collection, and the bucket backup.

The schedule's input names the tasks (``{"tasks": ["compact"]}``); a plain EventBridge
"Scheduled Event" (or ``detail.tasks``) works too, and no tasks means all of them. The run
stops starting new namespaces a minute before the function's timeout; the next run goes on.
Thin: ``membucket.aws.maintenance_handler`` builds the Membucket and the backup store once per container.
"""

from membucket.aws import maintenance_handler

lambda_handler = maintenance_handler()
