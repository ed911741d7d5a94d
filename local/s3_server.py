"""The no-Docker path: membucket served against a real HTTP S3 endpoint started from Python.

    python local/s3_server.py            # moto's S3 server on 127.0.0.1:4566, bucket "membucket", then serve
    python local/s3_server.py --check    # the same, one add + search over HTTP, then exit (0 = works)

moto's server mode speaks the S3 protocol over HTTP (conditional writes included), so requests
take the same path as against AWS or MinIO: boto3, botocore retries, ETags, If-None-Match. It
keeps everything in memory: the data is gone when this process stops. The server binds
loopback with auth off (as `make run` does); point the CLI at the same bucket with the two
variables printed at start.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import sys
import threading
import time

BUCKET = "membucket"


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def start_s3(port: int) -> str:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return endpoint


def check(base: str) -> None:
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)
    with httpx.Client(base_url=base, timeout=60) as client:
        r = client.post("/api/v1/memories", json={"text": "The local S3 check likes rooibos tea"})
        r.raise_for_status()
        r = client.post("/api/v1/memories/search", json={"query": "tea"})
        r.raise_for_status()
        assert "rooibos" in r.json()["items"][0]["text"], r.text
    print("check: add and search against the HTTP S3 endpoint work")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--s3-port", type=int, default=4566)
    ap.add_argument("--port", type=int, default=8765, help="membucket's port")
    ap.add_argument("--prefix", default="dev")
    ap.add_argument("--check", action="store_true", help="add + search once over HTTP, then exit")
    args = ap.parse_args(argv)
    if args.check:  # never collide with a running instance
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", 0))
            b.bind(("127.0.0.1", 0))
            args.s3_port, args.port = a.getsockname()[1], b.getsockname()[1]
    elif not port_free(args.s3_port):
        print(f"port {args.s3_port} is taken; pass --s3-port", file=sys.stderr)
        return 2

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    endpoint = start_s3(args.s3_port)
    store = f"s3://{BUCKET}/{args.prefix}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ["MEMBUCKET_STORE"] = store
    print(f"S3 (moto, in memory): {endpoint}, bucket {BUCKET}\n"
          f"  use it from another shell: export AWS_ENDPOINT_URL={endpoint} MEMBUCKET_STORE={store} "
          f"AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local", flush=True)

    from membucket import Membucket
    from membucket.http.serve import run

    if not args.check:
        run(Membucket(), host="127.0.0.1", port=args.port)
        return 0
    import uvicorn
    from membucket.http.app import create_app
    from membucket.http.serve import build_state

    server = uvicorn.Server(uvicorn.Config(create_app(build_state(Membucket(), "127.0.0.1", auth=False)),
                                           host="127.0.0.1", port=args.port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        check(f"http://127.0.0.1:{args.port}")
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            thread.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
