"""``membucket bench ...``: the benchmark commands, a plugin of the ``membucket`` command.

A development install (``pip install -e .``) registers this group under the
``membucket.cli_plugins`` entry point group; the CLI loads it from there, so the shipped package
(and the Lambda layer) never contains or imports benchmark code. Each module here is also a
library: ``run(...)`` returns the figures it writes as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from membucket.cli import translate_errors

__all__ = ["bench", "SAMPLE"]

# A LoCoMo-format sample of our own, found wherever the command runs from (bench/data/README.md).
SAMPLE = str(Path(__file__).resolve().parents[1] / "data" / "conversation_sample.json")


@click.group("bench")
def bench():
    """Benchmarks that print figures and write JSON.

    Example: membucket bench engine --n 1000,10000 --backends local
    """


@bench.command("engine")
@click.option("--n", "sizes", default="1000,10000,100000", show_default=True, help="Namespace sizes, comma-separated.")
@click.option("--backends", default="local,moto", show_default=True, help="Stores to measure: local, moto (HTTP server).")
@click.option("--out", default="bench/out/engine.json", show_default=True, help="Where to write the JSON results.")
@click.option("--queries", default=200, show_default=True, help="Searches per size.")
@click.option("--writers", default=8, show_default=True, help="Concurrent writer processes.")
@click.option("--log-lengths", default="300,9000", show_default=True, help="Log lengths (single-entry commits) to compare add/search p50 at; '' skips.")
@translate_errors
def bench_engine(sizes, backends, out, queries, writers, log_lengths):
    """Engine latency and throughput with random normalized vectors (no embedding).

    Example: membucket bench engine --n 1000,10000 --backends local
    """
    from .engine import run

    run(
        [int(x) for x in sizes.split(",") if x], backends=[b for b in backends.split(",") if b], out=out, queries=queries,
        writers=writers, log_lengths=[int(x) for x in log_lengths.split(",") if x],
    )


@bench.command("cli")
@click.option("--repeat", default=5, show_default=True, help="Runs per case (the median is reported).")
@click.option("--out", default="bench/out/cli.json", show_default=True, help="Where to write the JSON results.")
@click.option("--baseline", type=click.Path(exists=True, file_okay=False), help="Another tree's layers/core to measure the same way (PYTHONPATH).")
def bench_cli(repeat, out, baseline):
    """CLI start (--version, --help), one-shot add and one-shot search, each a fresh process, beside
    a process that only loads the model.

    Example: membucket bench cli --repeat 5 --out bench/results/cli.json
    """
    from .cli_start import run

    run(repeat, out=out, baseline=baseline)


@bench.command("backup")
@click.option("--namespaces", default=100, show_default=True, help="Namespaces to back up.")
@click.option("--memories", default=20, show_default=True, help="Memories per namespace.")
@click.option("--backends", default="local,moto", show_default=True, help="Stores to measure: local, moto (HTTP server).")
@click.option("--out", default="bench/out/backup.json", show_default=True, help="Where to write the JSON results.")
@translate_errors
def bench_backup(namespaces, memories, backends, out):
    """Full, then incremental bucket backups of many small namespaces (copied vs skipped), verify, restore.

    Example: membucket bench backup --namespaces 100 --backends local
    """
    from .backup import run

    run(namespaces, memories, backends=[b for b in backends.split(",") if b], out=out)


@bench.command("http")
@click.option("--n", default=10_000, show_default=True, help="Memories in the namespace.")
@click.option("--queries", default=200, show_default=True, help="Sequential searches measured.")
@click.option("--clients", default=8, show_default=True, help="Concurrent clients.")
@click.option("--seconds", default=15.0, show_default=True, help="Duration of the concurrent run.")
@click.option("--out", default="bench/out/http.json", show_default=True, help="Where to write the JSON results.")
@translate_errors
def bench_http(n, queries, clients, seconds, out):
    """MCP search_memory and REST search end to end over loopback HTTP (offline embedder).

    Example: membucket bench http --n 10000 --clients 8
    """
    from .http import run

    run(n=n, queries=queries, clients=clients, seconds=seconds, out=out)


@bench.command("locomo")
@click.option(
    "--data", "data_path", default=SAMPLE, show_default="bench/data/conversation_sample.json",
    help="LoCoMo JSON file (read in place, never copied); the default is a tiny sample for smoke runs (bench/data/README.md).",
)
@click.option("--mode", "modes", default="hybrid", show_default=True, help="Search mode(s): dense, lexical, hybrid; comma-separated to compare.")
@click.option("--conversations", type=int, help="Only the first N conversations.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--out", help="Also write the JSON results here (e.g. bench/results/retrieval-quality.json).")
@click.option("--scale", type=int, help="Also time warm searches with this many memories in one namespace (e.g. 10000).")
@translate_errors
def bench_locomo(data_path, modes, conversations, as_json, out, scale):
    """Retrieval quality (recall@1/5/10, MRR) on LoCoMo through the real add and search operations.

    Example: membucket bench locomo --data locomo10.json --mode dense,lexical,hybrid
    """
    from .locomo import run

    try:
        run(data_path, [m for m in modes.split(",") if m], as_json=as_json, conversations=conversations, out=out, scale=scale)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc


@bench.command("categories")
@click.option("--data", "data_path", default="tests/data/categories_labelled.jsonl", show_default=True, help="Labelled JSONL (text, categories, split).")
@click.option("--out", default="bench/out/categories.json", show_default=True, help="Where to write the JSON results.")
@translate_errors
def bench_categories(data_path, out):
    """Offline categorizer quality: tune threshold/margin on the tune half, micro P/R/F1 on the holdout half.

    Example: membucket bench categories
    """
    from .categories import run

    result = run(data_path, out=out)
    click.echo(json.dumps({k: v for k, v in result.items() if k != "holdout_per_category"}, indent=2))


@bench.command("export")
@click.option("--n", default=100_000, show_default=True, help="Memories (with 384-d synthetic vectors).")
@click.option("--store", "store_kind", default="local", type=click.Choice(["local"]), show_default=True, help="Store backend.")
@click.option("--out", default="bench/out/export.json", show_default=True, help="Where to write the JSON results.")
@translate_errors
def bench_export(n, store_kind, out):
    """Export and import N memories: time, peak memory, bundle size (no model needed).

    Example: membucket bench export --n 10000
    """
    from .export import run

    run(n=n, out=out)


@bench.command("engine-load")
@click.option(
    "--parts", default="servers,writers,hot", show_default=True,
    help="servers (S servers x C clients), writers (W writers, one namespace), hot (store calls per warm request).",
)
@click.option("--backends", default="local,moto", show_default=True, help="Stores for writers and hot: local, moto (HTTP server).")
@click.option("--s3", default="moto", type=click.Choice(["moto", "localstack"]), show_default=True, help="The S3 server the servers part shares.")
@click.option("--servers", default=2, show_default=True, help="Server processes on one bucket.")
@click.option("--clients", default=8, show_default=True, help="HTTP clients per server.")
@click.option("--requests", default=150, show_default=True, help="Requests per client (8 x 2 x 150 x 0.3 = 720 adds: past one checkpoint).")
@click.option("--add-share", default=0.3, show_default=True, help="Share of adds among the clients' requests (the rest are searches).")
@click.option("--seed", "seed_n", default=2000, show_default=True, help="Memories in the namespace before the servers start.")
@click.option("--compact-after", default=500, show_default=True, help="The servers' compaction threshold (entries).")
@click.option("--writers", default=8, show_default=True, help="Concurrent writer processes.")
@click.option("--commits", default=40, show_default=True, help="Single adds per writer.")
@click.option("--out", default="bench/out/engine-load.json", show_default=True, help="Where to write the JSON results.")
@translate_errors
def bench_engine_load(parts, backends, s3, servers, clients, requests, add_share, seed_n, compact_after, writers, commits, out):
    """Issue 12's load figures: servers sharing a bucket (p99, max, lost writes, double
    checkpoints), writers sharing a namespace (commits/s, worst wait), calls per warm request.

    Example: membucket bench engine-load --requests 100 --out bench/results/engine-load.json
    """
    import sys

    from .load import run

    run(
        out, parts=[p for p in parts.split(",") if p], backends=[b for b in backends.split(",") if b], servers=servers,
        clients=clients, requests=requests, add_share=add_share, seed_n=seed_n, compact_after=compact_after,
        writers=writers, commits=commits, s3=s3, command=" ".join(["membucket", "bench", "engine-load", *sys.argv[3:]]),
    )


@bench.command("engine-storage")
@click.option("--adds", default=10000, show_default=True, help="Single adds before measuring bytes per memory (0 skips).")
@click.option("--base", default=100000, show_default=True, help="Namespace size for bytes per add and cold start (0 skips).")
@click.option("--measured", default=2000, show_default=True, help="Single adds into the base namespace whose PUT bytes are counted.")
@click.option("--backends", default="local,moto", show_default=True, help="Cold start on: local, moto (HTTP server).")
@click.option("--out", default="bench/out/engine-storage.json", show_default=True, help="Where to write the JSON results.")
@translate_errors
def bench_engine_storage(adds, base, measured, backends, out):
    """Store bytes per memory, bytes written per add and cold start (issue 12, format-2 checkpoints).

    Example: membucket bench engine-storage --adds 10000 --base 100000 --measured 2000
    """
    from .storage import run

    run(adds, base, measured, [b for b in backends.split(",") if b], out)
