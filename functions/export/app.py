"""Export the caller's memory: ``POST /api/v1/export`` -> the bundle in the backup bucket + a presigned URL.

Thin: ``membucket.http.export`` under Mangum. API Gateway cannot carry a large bundle in a
response, so the bundle is written to ``MEMBUCKET_EXPORT_STORE`` (``exports/`` in the backup
bucket, the only place this function may write) and the answer is a GET URL presigned for
``MEMBUCKET_EXPORT_URL_SECONDS``. Bodies are never logged.
"""

from membucket.lambda_support import export_app, http_handler

lambda_handler = http_handler("export", app=export_app())
APP = lambda_handler.app
