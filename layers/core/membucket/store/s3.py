"""S3, or any S3-compatible server (MinIO, ...), as an ObjectStore, through boto3.

Conditional writes are S3's own: ``IfNoneMatch='*'`` to create a key only if it is absent,
``IfMatch=<etag>`` to replace it only if unchanged. The server needs conditional-write support
(AWS S3 since 2024; MinIO; moto in tests); ``membucket doctor`` checks for it. So does the SDK:
botocore sends ``IfNoneMatch`` on PutObject from 1.35.2 and ``IfMatch`` from 1.35.69 (Nov 2024);
an older one (a Lambda runtime's, say) rejects every write with ParamValidationError while reads
work, so ``require_conditional_writes`` refuses it when the first client is made, naming the
version needed.

Every botocore failure is translated in one place, ``map_s3_errors``:

    botocore                                                   ObjectStore error
    ---------------------------------------------------------  ------------------
    412 / PreconditionFailed                                   PreconditionFailed
    409 / ConditionalRequestConflict                           ConflictInFlight
    404 / NoSuchKey / NotFound (HEAD)                          NotFound
      (404 on a put with If-Match: the key is missing)         PreconditionFailed
    404 NoSuchBucket                                           StoreError (configuration, not "empty")
    304 (conditional GET)                                      NotModified
    429, 5xx, SlowDown / throttling codes, RequestTimeout,     Unavailable
      EndpointConnectionError, Connect/ReadTimeoutError,
      ConnectionClosedError and other connection errors
    NoCredentialsError, PartialCredentialsError,               Misconfigured (one line naming what to set)
      ProfileNotFound
    anything else (403 AccessDenied, ...)                      StoreError

Unavailable is raised only after botocore's own retries (see ``client_config``).

Limits: one object is sent in one PUT (5 GB at most, as is ``copy``'s server-side copy);
ETags are returned by the server (the MD5 for a single-part upload without SSE-KMS).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError, NoCredentialsError, PartialCredentialsError, ProfileNotFound
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.utils import determine_content_length
from urllib3.exceptions import ProtocolError

from .base import GetResult, ObjectInfo, ObjectStore, PutCondition, validate_key, validate_prefix
from .errors import ConflictInFlight, Misconfigured, NotFound, NotModified, PreconditionFailed, StoreError, Unavailable

__all__ = ["S3Store", "client_config", "map_s3_errors", "require_conditional_writes", "MAX_RETRIES", "MIN_BOTOCORE", "CONNECT_TIMEOUT", "NO_CREDENTIALS"]

CONNECT_TIMEOUT = 5  # seconds to open a connection
READ_TIMEOUT = 30  # seconds without a byte from an open connection (not a total deadline)
MAX_RETRIES = 10  # botocore's "max_attempts" counts retries after the first try: 11 attempts in all
MAX_POOL_CONNECTIONS = 32  # parallel requests from threads sharing one client
MIN_BOTOCORE = (1, 35, 69)  # the first botocore whose PutObject takes IfMatch (IfNoneMatch: 1.35.2)
NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
    "(--profile / MEMBUCKET_PROFILE), or run where a role provides them"
)

_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)


def client_config(max_retries: int = MAX_RETRIES, connect_timeout: float = CONNECT_TIMEOUT) -> Config:
    """The botocore config every S3Store client is built with.

    Transport retries live here, in the SDK, and nowhere else: no hand-written retry loops
    around S3 calls. botocore's "standard" mode retries throttling (503 SlowDown, 429),
    500/502/503/504, RequestTimeout, connection errors and timeouts, with jittered exponential
    backoff (capped at 20 s). It does NOT retry 412 or 409: those are outcomes of a conditional
    write and go back to the caller, which decides (the engine's commit protocol).

    10 retries instead of the default (in botocore's Config, ``max_attempts`` counts retries, so
    a request is tried up to 11 times): when S3 scales a busy prefix it answers 503 SlowDown for
    longer than a few quick tries last, and a commit that gives up early costs a client a 503.
    The price: with backoff doubling to 20 s, a persistent outage surfaces as Unavailable only
    after about a minute; a caller with a tighter deadline needs its own client config. The
    standard mode also keeps a per-client retry quota (500 tokens, 5 per retry, 10 per
    timeout, refilled by successes): in a long outage it runs dry and later calls fail after
    one attempt, which is what a request with a deadline wants.

    Timeouts are per connect and per socket read, not a deadline for the whole call. A one-shot
    CLI command asks for fewer retries and a shorter connect timeout (``store_max_retries``,
    ``store_connect_timeout``): a person waiting at a prompt wants the failure in seconds.
    """
    return Config(
        retries={"mode": "standard", "max_attempts": max_retries},
        connect_timeout=connect_timeout,
        read_timeout=READ_TIMEOUT,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )


@contextlib.contextmanager
def map_s3_errors(op: str, key: str) -> Iterator[None]:
    """Translate botocore exceptions raised inside the block into ObjectStore errors (``from`` the original)."""
    try:
        yield
    except ClientError as exc:
        raise _from_client_error(exc, f"{op} {key}") from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise Misconfigured(f"{NO_CREDENTIALS} ({exc})") from exc
    except (BotocoreConnectionError, HTTPClientError, IncompleteReadError, ProtocolError) as exc:
        # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError,
        # ResponseStreamingError (a body cut short), proxy errors; urllib3's ProtocolError when
        # a connection is reset while the body is read (outside botocore's retries).
        raise Unavailable(f"{op} {key}: {exc}") from exc


def _from_client_error(exc: ClientError, where: str) -> StoreError:
    error = exc.response.get("Error", {}) or {}
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")) or code
    status = (exc.response.get("ResponseMetadata", {}) or {}).get("HTTPStatusCode") or 0
    if code == "NoSuchBucket":
        return StoreError(f"{where}: bucket does not exist ({message})")
    if status == 412 or code == "PreconditionFailed":
        return PreconditionFailed(f"{where}: {message}")
    if status == 409 or code == "ConditionalRequestConflict":
        return ConflictInFlight(f"{where}: {message}")
    if status == 404 or code in ("NoSuchKey", "NotFound", "404"):
        return NotFound(where)
    if status == 304 or code in ("304", "NotModified"):
        return NotModified(where)
    if status == 429 or status >= 500 or code in _TRANSIENT_CODES:
        return Unavailable(f"{where}: {status} {message}")
    return StoreError(f"{where}: {status} {code}: {message}")


def require_conditional_writes(version: str | None = None) -> None:
    """Refuse a botocore that cannot send If-None-Match / If-Match on PutObject (StoreError naming the version needed)."""
    import botocore

    found = version or botocore.__version__
    parts = tuple(int(p) for p in re.findall(r"\d+", found)[:3])
    if parts < MIN_BOTOCORE:
        need = ".".join(map(str, MIN_BOTOCORE))
        raise StoreError(
            f"botocore {found} cannot make S3 conditional writes (PutObject If-None-Match / If-Match), which every commit uses: "
            f"membucket needs boto3 and botocore >= {need}. In AWS Lambda the runtime's SDK is too old: "
            f"add boto3>={need} to the dependency layer or use a newer runtime."
        )


_RANGED_ABOVE = 64 << 20  # objects larger than this download as parallel ranged GETs
_SESSIONS: dict[tuple[str | None, str | None], boto3.session.Session] = {}
_SESSIONS_LOCK = threading.Lock()


def _new_client(
    endpoint_url: str | None, region: str | None, profile: str | None, max_retries: int = MAX_RETRIES, connect_timeout: float = CONNECT_TIMEOUT
) -> Any:
    """An S3 client from a session cached per (profile, region).

    A new boto3 session loads and parses the S3 service model again (~100 ms); a cached one makes
    a client in ~10 ms. Sessions are not thread-safe, hence the lock. Like boto3's own default
    session, a cached session keeps the credentials it first resolved (refreshable ones, such
    as assumed roles, still refresh).
    """
    require_conditional_writes()
    with _SESSIONS_LOCK:
        session = _SESSIONS.get((profile, region))
        if session is None:
            try:
                session = boto3.session.Session(profile_name=profile, region_name=region)
            except ProfileNotFound as exc:
                raise Misconfigured(f"AWS profile {profile!r} not found in ~/.aws/config or ~/.aws/credentials") from exc
            _SESSIONS[(profile, region)] = session
        return session.client("s3", endpoint_url=endpoint_url, config=client_config(max_retries, connect_timeout))


EXPECT_MIN_BYTES = 1 << 20  # smaller PUTs are sent without ``Expect: 100-continue``


def _no_expect_for_small_puts(params: dict[str, Any], model: Any = None, **_kwargs: Any) -> None:
    """Drop ``Expect: 100-continue`` from a small PutObject (botocore adds it to every one).

    The header makes the client wait for the server's go-ahead before it sends the body: a round
    trip that only pays for itself when a large body may be refused. A commit's log entry, a
    claim or the pointer is a few KB, and a 412 on one (another writer took the number) is the
    common answer under contention: against moto's server such a 412 took 17 ms instead of 6.
    """
    headers = params.get("headers")
    if getattr(model, "name", None) != "PutObject" or not headers or "Expect" not in headers:
        return
    body = params.get("body")
    size = len(body) if isinstance(body, (bytes, bytearray)) else determine_content_length(body)
    if size is not None and size < EXPECT_MIN_BYTES:
        del headers["Expect"]


def _strip(etag: str) -> str:
    return etag.strip().strip('"')


def _quote(etag: str) -> str:
    return f'"{_strip(etag)}"'


class S3Store:
    """A bucket, or a prefix of one, as an ObjectStore. Thread-safe (one boto3 client, pooled).

    ``endpoint_url`` points at an S3-compatible server; without it boto3 uses
    ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` when set, else AWS. ``client`` replaces the
    client this class would build (then ``endpoint_url``, ``region`` and ``profile`` are unused).
    """
    cheap_list_after = True  # ListObjectsV2 StartAfter: one request, whatever precedes the key

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        client: Any = None,
        max_retries: int = MAX_RETRIES,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ValueError(f"S3Store: invalid bucket name {bucket!r}")
        prefix = prefix.strip("/")
        if prefix:
            validate_key(prefix)
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        self.client = client if client is not None else _new_client(endpoint_url, region, profile, max_retries, connect_timeout)
        events = getattr(getattr(self.client, "meta", None), "events", None)
        if events is not None:  # the same event as botocore's own handler, which adds the header: runs after it
            events.register("before-call.s3", _no_expect_for_small_puts, unique_id="membucket-no-expect")

    def __repr__(self) -> str:
        return f"S3Store({self.url!r}, endpoint={self.client.meta.endpoint_url!r})"

    def _full(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def get(self, key: str, *, if_none_match: str | None = None) -> GetResult:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full(key)}
        if if_none_match is not None:
            params["IfNoneMatch"] = _quote(if_none_match)
        with map_s3_errors("get", key):
            resp = self.client.get_object(**params)
            with contextlib.closing(resp["Body"]) as stream:
                body = stream.read()
        return GetResult(body=body, etag=_strip(resp["ETag"]), last_modified=resp["LastModified"].timestamp())

    def download(self, key: str, path: Path) -> None:
        """Stream an object to a local file: one GET up to 64 MiB (checkpoint segments are at most
        16 MiB and fetched several at once), parallel ranged GETs above (format-1 files)."""
        from boto3.s3.transfer import TransferConfig

        tmp = f"{path}.part"
        with map_s3_errors("get", key):
            self.client.download_file(self.bucket, self._full(key), tmp, Config=TransferConfig(
                multipart_threshold=_RANGED_ABOVE, multipart_chunksize=16 << 20, max_concurrency=8))
        os.replace(tmp, path)

    def head(self, key: str) -> ObjectInfo:
        with map_s3_errors("head", key):
            resp = self.client.head_object(Bucket=self.bucket, Key=self._full(key))
        return ObjectInfo(
            key=key,
            size=int(resp["ContentLength"]),
            etag=_strip(resp["ETag"]),
            last_modified=resp["LastModified"].timestamp(),
        )

    def put(self, key: str, body: bytes, condition: PutCondition | None = None) -> str:
        """See ``ObjectStore.put``.

        A PreconditionFailed can also be this very put: when an attempt lands but its response
        is lost, botocore retries and the retry meets the object the first attempt wrote. A
        caller that must tell the two apart compares the stored content with its own.
        """
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full(key), "Body": bytes(body)}
        if condition is not None and condition.if_none_match:
            params["IfNoneMatch"] = "*"
        elif condition is not None and condition.if_match is not None:
            params["IfMatch"] = _quote(condition.if_match)
        try:
            with map_s3_errors("put", key):
                resp = self.client.put_object(**params)
        except NotFound:
            if "IfMatch" in params:  # S3 answers 404 NoSuchKey to If-Match on a missing key
                raise PreconditionFailed(f"put {key}: missing (If-Match)") from None
            raise
        return _strip(resp["ETag"])

    def list(self, prefix: str, *, start_after: str | None = None, limit: int | None = None) -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        if limit is not None and limit <= 0:
            return
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
        if start_after:
            params["StartAfter"] = self.prefix + start_after
        if limit is not None:
            params["PaginationConfig"] = {"PageSize": min(limit, 1000)}
        cut = len(self.prefix)
        count = 0
        with map_s3_errors("list", prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(**params):
                for obj in page.get("Contents", ()):
                    yield ObjectInfo(
                        key=obj["Key"][cut:],
                        size=int(obj["Size"]),
                        etag=_strip(obj["ETag"]),
                        last_modified=obj["LastModified"].timestamp(),
                    )
                    count += 1
                    if limit is not None and count >= limit:
                        return

    def delete(self, key: str) -> None:
        with map_s3_errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=self._full(key))

    def copy(self, src_key: str, dst_key: str, *, dst: ObjectStore | None = None) -> None:
        target = self if dst is None else dst
        validate_key(src_key)
        validate_key(dst_key)
        if isinstance(target, S3Store) and target.client.meta.endpoint_url == self.client.meta.endpoint_url:
            # Server-side: the destination's client asks for a copy of our object, bytes never leave S3.
            with map_s3_errors("copy", f"{src_key} -> {target.url}/{dst_key}"):
                target.client.copy_object(
                    Bucket=target.bucket,
                    Key=target._full(dst_key),
                    CopySource={"Bucket": self.bucket, "Key": self._full(src_key)},
                )
            return
        target.put(dst_key, self.get(src_key).body)
