"""Which S3 actions a request needs, and whether a role's statements allow them (IAM's rules).

``s3_request`` maps one path-style S3 HTTP request to the (action, resource, condition keys) IAM
checks: a copy needs GetObject on the source and PutObject on the target; multipart steps are
PutObject; a conditional PUT carries ``s3:if-none-match`` / ``s3:if-match``. ``evaluate`` applies
identity-policy logic: an explicit Deny wins, else any matching Allow, else implicit deny.
Supported condition operators: Null, String(Not)Equals(IgnoreCase), String(Not)Like, Bool,
NumericLessThan(Equals)/GreaterThan(Equals); an unknown operator never matches (so an Allow
that depends on it does not apply, and cloud-check reports a denial rather than a pass).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote
from xml.etree import ElementTree

__all__ = ["Check", "s3_request", "evaluate", "allowed"]


@dataclass
class Check:
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


_BUCKET_GET = {"versions": "s3:ListBucketVersions", "uploads": "s3:ListBucketMultipartUploads", "location": "s3:GetBucketLocation",
               "versioning": "s3:GetBucketVersioning", "lifecycle": "s3:GetLifecycleConfiguration", "policy": "s3:GetBucketPolicy",
               "encryption": "s3:GetEncryptionConfiguration", "object-lock": "s3:GetBucketObjectLockConfiguration",
               "acl": "s3:GetBucketAcl", "tagging": "s3:GetBucketTagging", "cors": "s3:GetBucketCORS"}
_BUCKET_PUT = {"versioning": "s3:PutBucketVersioning", "lifecycle": "s3:PutLifecycleConfiguration", "policy": "s3:PutBucketPolicy",
               "encryption": "s3:PutEncryptionConfiguration", "object-lock": "s3:PutBucketObjectLockConfiguration",
               "acl": "s3:PutBucketAcl", "tagging": "s3:PutBucketTagging", "cors": "s3:PutBucketCORS",
               "publicAccessBlock": "s3:PutBucketPublicAccessBlock", "ownershipControls": "s3:PutBucketOwnershipControls"}


def s3_request(method: str, path: str, query: str, headers: dict[str, str], body: bytes | None = None) -> list[Check]:
    """The checks one S3 request needs (path-style addressing: /bucket/key)."""
    method = method.upper()
    q = parse_qs(query, keep_blank_values=True)
    h = {k.lower(): v for k, v in headers.items()}
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket:
        return [Check("s3:ListAllMyBuckets", "*")]
    barn = f"arn:aws:s3:::{bucket}"
    if not key:
        if method in ("GET", "HEAD"):
            sub = next((s for s in _BUCKET_GET if s in q), None)
            if sub:
                return [Check(_BUCKET_GET[sub], barn)]
            ctx = {k: q[p][0] for k, p in (("s3:prefix", "prefix"), ("s3:delimiter", "delimiter"), ("s3:max-keys", "max-keys")) if p in q}
            return [Check("s3:ListBucket", barn, ctx)]
        if method == "PUT":
            sub = next((s for s in _BUCKET_PUT if s in q), None)
            return [Check(_BUCKET_PUT[sub] if sub else "s3:CreateBucket", barn)]
        if method == "POST" and "delete" in q:
            keys = [el.text or "" for el in ElementTree.fromstring(body or b"<Delete/>").iter() if el.tag.endswith("Key")]
            return [Check("s3:DeleteObject", f"{barn}/{k}") for k in keys]
        if method == "DELETE":
            return [Check("s3:DeleteBucket", barn)]
        return [Check(f"s3:Unknown{method.title()}Bucket", barn)]
    oarn = f"{barn}/{key}"
    if method in ("GET", "HEAD"):
        if "uploadId" in q:
            return [Check("s3:ListMultipartUploadParts", oarn)]
        if "tagging" in q:
            return [Check("s3:GetObjectTagging", oarn)]
        if "acl" in q:
            return [Check("s3:GetObjectAcl", oarn)]
        return [Check("s3:GetObjectVersion" if "versionId" in q else "s3:GetObject", oarn)]
    if method == "PUT":
        if "tagging" in q:
            return [Check("s3:PutObjectTagging", oarn)]
        if "acl" in q:
            return [Check("s3:PutObjectAcl", oarn)]
        if "retention" in q:
            return [Check("s3:PutObjectRetention", oarn)]
        ctx = {}
        if "if-none-match" in h:
            ctx["s3:if-none-match"] = h["if-none-match"]
        if "if-match" in h:
            ctx["s3:if-match"] = h["if-match"]
        checks = [Check("s3:PutObject", oarn, ctx)]
        if "x-amz-copy-source" in h and "partNumber" not in q:
            src = unquote(h["x-amz-copy-source"]).lstrip("/")
            src, _, version = src.partition("?versionId=")
            checks.append(Check("s3:GetObjectVersion" if version else "s3:GetObject", f"arn:aws:s3:::{src}"))
        return checks
    if method == "POST":
        if "uploads" in q or "uploadId" in q:
            ctx = {"s3:if-none-match": h["if-none-match"]} if "if-none-match" in h else {}
            return [Check("s3:PutObject", oarn, ctx)]
        return [Check("s3:RestoreObject" if "restore" in q else f"s3:UnknownPost{key}", oarn)]
    if method == "DELETE":
        if "uploadId" in q:
            return [Check("s3:AbortMultipartUpload", oarn)]
        return [Check("s3:DeleteObjectVersion" if "versionId" in q else "s3:DeleteObject", oarn)]
    return [Check(f"s3:Unknown{method.title()}Object", oarn)]


def _like(pattern: str, value: str, ignore_case: bool = True) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _listify(v) -> list:
    return v if isinstance(v, list) else [v]


def _condition_holds(op: str, key: str, wanted, context: dict[str, str]) -> bool:
    base = op.replace("IfExists", "")
    present = key.lower() in context
    value = context.get(key.lower())
    if base == "Null":
        want_null = str(_listify(wanted)[0]).lower() == "true"
        return (not present) == want_null
    if not present:
        return op.endswith("IfExists")
    wanted = [str(w) for w in _listify(wanted)]
    if base == "StringEquals":
        return value in wanted
    if base == "StringEqualsIgnoreCase":
        return value.lower() in [w.lower() for w in wanted]
    if base == "StringNotEquals":
        return value not in wanted
    if base == "StringLike":
        return any(_like(w, value, ignore_case=False) for w in wanted)
    if base == "StringNotLike":
        return not any(_like(w, value, ignore_case=False) for w in wanted)
    if base == "Bool":
        return value.lower() in [w.lower() for w in wanted]
    numeric = {"NumericLessThan": float.__lt__, "NumericLessThanEquals": float.__le__,
               "NumericGreaterThan": float.__gt__, "NumericGreaterThanEquals": float.__ge__}
    if base in numeric:
        return any(numeric[base](float(value), float(w)) for w in wanted)
    return False


def _statement_applies(st: dict, check: Check) -> bool:
    actions = st.get("Action")
    if actions is not None:
        if not any(_like(a, check.action) for a in _listify(actions)):
            return False
    elif "NotAction" in st and any(_like(a, check.action) for a in _listify(st["NotAction"])):
        return False
    resources = st.get("Resource")
    if resources is not None:
        if not any(_like(r, check.resource, ignore_case=False) for r in _listify(resources)):
            return False
    elif "NotResource" in st and any(_like(r, check.resource, ignore_case=False) for r in _listify(st["NotResource"])):
        return False
    context = {k.lower(): v for k, v in {"aws:SecureTransport": "true", **check.context}.items()}
    for op, keys in (st.get("Condition") or {}).items():
        for key, wanted in keys.items():
            if not _condition_holds(op, key, wanted, context):
                return False
    return True


def evaluate(statements: list[dict], check: Check) -> str:
    """"Allow", "ExplicitDeny" or "ImplicitDeny"."""
    decision = "ImplicitDeny"
    for st in statements:
        if _statement_applies(st, check):
            if st.get("Effect") == "Deny":
                return "ExplicitDeny"
            decision = "Allow"
    return decision


def allowed(statements: list[dict], check: Check) -> bool:
    return evaluate(statements, check) == "Allow"
