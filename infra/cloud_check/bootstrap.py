"""The runtime loop inside one cloud-check sandbox: what Lambda's python3.12 bootstrap does.

Standard library only: it runs under ``python3.12 -I -S`` with nothing but the function's task
dir, the merged layers and the runtime SDK on ``sys.path``, in that order, as Lambda orders
them. Like Lambda's runtime it gives the root logger a handler writing
``[LEVEL]\\t<time>\\t<request id>\\t<message>`` to stdout (so a library that calls
``logging.basicConfig`` changes nothing, and a logger that both prints and propagates prints
twice), imports the handler module once (the init phase), then invokes it once per event.

Protocol: one JSON request per line on stdin (``{"event": ..., "request_id": ...}``), one JSON
answer per line on the pipe named by ``_CC_ANSWER_FD``: ``{"init_s"}`` or ``{"init_error"}`` first, then per event
``{"response" | "error", "ms", "rss_mb", "tmp_mb", "response_bytes"}``. Deadlines are the
parent's business: it kills this process, as Lambda ends a timed-out sandbox.
"""

import json
import os
import resource
import sys
import time
import traceback

TASK = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
OPT = os.environ.get("CC_OPT", "/opt")
RUNTIME = os.environ.get("LAMBDA_RUNTIME_DIR", "/var/runtime")
STDLIB = [p for p in sys.path if p and "site-packages" not in p]
sys.path[:] = [TASK, f"{OPT}/python/lib/python3.12/site-packages", f"{OPT}/python", *STDLIB, RUNTIME]
sys.dont_write_bytecode = True

_request_id = {"value": ""}


def _setup_logging() -> None:
    import logging

    class _Filter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id["value"]
            return True

    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_Filter())
    logging.getLogger().addHandler(handler)


class Context:
    def __init__(self, request_id: str, deadline_ms: float) -> None:
        env = os.environ
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = f"arn:aws:lambda:{env.get('AWS_REGION', 'us-east-1')}:123456789012:function:{self.function_name}"
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _tmp_mb() -> float:
    if os.environ.get("TMPDIR"):  # fallback mode: a directory, not a tmpfs of its own
        return round(sum(os.path.getsize(os.path.join(b, f)) for b, _, fs in os.walk(os.environ["TMPDIR"]) for f in fs) / 2**20, 1)
    try:
        st = os.statvfs("/tmp")
        return round((st.f_blocks - st.f_bfree) * st.f_frsize / 2**20, 1)
    except OSError:
        return -1.0


def main() -> None:
    out = os.fdopen(int(os.environ.pop("_CC_ANSWER_FD")), "w", buffering=1)
    _setup_logging()
    module_name, func_name = os.environ["_HANDLER"].rsplit(".", 1)
    start, cpu = time.perf_counter(), time.process_time()
    try:
        handler = getattr(__import__(module_name), func_name)
    except BaseException:  # noqa: BLE001 - an init error is reported, as Lambda reports Runtime.ImportModuleError
        sys.stdout.flush()
        out.write(json.dumps({"init_error": traceback.format_exc(limit=20)[-6000:], "init_s": time.perf_counter() - start}) + "\n")
        return
    sys.stdout.flush()
    out.write(json.dumps({"init_s": round(time.perf_counter() - start, 3), "init_cpu_s": round(time.process_time() - cpu, 3),
                          "rss_mb": _rss_mb(), "tmp_mb": _tmp_mb()}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        _request_id["value"] = req["request_id"]
        os.environ["_X_AMZN_TRACE_ID"] = req.get("trace_id", "")
        print(f"START RequestId: {req['request_id']} Version: $LATEST", flush=True)
        t, cpu = time.perf_counter(), time.process_time()
        answer: dict = {}
        try:
            result = handler(req["event"], Context(req["request_id"], time.time() * 1000 + req["timeout_ms"]))
            raw = json.dumps(result)
            answer = {"response": result, "response_bytes": len(raw)}
        except BaseException as exc:  # noqa: BLE001 - Lambda answers an unhandled error as a function error
            answer = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=20)[-6000:]}
        answer["ms"] = round((time.perf_counter() - t) * 1000, 2)
        answer["cpu_ms"] = round((time.process_time() - cpu) * 1000, 2)  # CPU time: what a loaded machine inflates least
        sys.stdout.flush()
        sys.stderr.flush()
        print(f"END RequestId: {req['request_id']}", flush=True)
        out.write(json.dumps({**answer, "rss_mb": _rss_mb(), "tmp_mb": _tmp_mb()}) + "\n")


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    main()
