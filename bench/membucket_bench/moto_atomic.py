"""``python -m membucket_bench.moto_atomic -H host -p port``: moto's S3 server with atomic conditional PUTs.

moto 5.2 checks If-None-Match / If-Match and then stores the object in separate steps, so two
requests racing on one key can both pass the check (tests/conftest.py's
``moto_atomic_conditional_writes`` says the same for the tests). S3 decides atomically; a bench
that counts lost writes and checkpoints written twice must not count moto's race as ours, so
PutObject handling is serialised here, as the tests do.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.s3.responses import S3Response
from moto.server import main

_LOCK = threading.Lock()
_PUT = S3Response.put_object


def _put_object(self: Any, *args: Any, **kwargs: Any) -> Any:
    with _LOCK:
        return _PUT(self, *args, **kwargs)


S3Response.put_object = _put_object  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
