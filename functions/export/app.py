"""Export a user's memory: ``/api/v1/export`` (writes only to the backup bucket).

The export operation is not built yet (a separate issue): until ``membucket.ops.export`` exists
this answers 501 ``not_implemented``. Once it does, the request goes to the shared app like
every other HTTP function, and the export's REST route serves it.
"""

from aws_lambda_powertools.logging import correlation_paths

from membucket import ops
from membucket.lambda_support import http_app, json_response, logger, metrics, serve_http, tracer

APP = http_app() if hasattr(ops, "export") else None
NOT_BUILT = {"error": {"code": "not_implemented", "message": "export is not available in this version of membucket"}}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event, context):
    if APP is None:
        return serve_http(lambda e, c: json_response(501, NOT_BUILT), event, context, function="export")
    return serve_http(APP, event, context, function="export")
