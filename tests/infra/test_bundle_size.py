"""infra/bundle_size.py: how a build is measured against Lambda's limit (the build itself: make package)."""

from __future__ import annotations

from .conftest import ROOT


def _fake_build(tmp_path, deps_bytes):
    for name, size in (("CoreLayer/python/membucket/x.py", 1000), ("DepsLayer/python/big.so", deps_bytes), ("AddFunction/app.py", 500)):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * size)


def test_function_size_counts_its_code_and_every_layer(infra, template, tmp_path):
    bundle = infra("bundle_size")
    _fake_build(tmp_path, 10_000)
    rows = {r["function"]: r for r in bundle.measure(tmp_path, template)}
    assert rows["AddFunction"] == {"function": "AddFunction", "code": 500, "CoreLayer": 1000, "DepsLayer": 10_000, "total": 11_500}
    assert set(rows) == {n for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def test_over_the_limit_fails(infra, tmp_path, capsys):
    bundle = infra("bundle_size")
    _fake_build(tmp_path, 2_000)
    assert bundle.main(["--build-dir", str(tmp_path), "--limit", "10000"]) == 0
    assert bundle.main(["--build-dir", str(tmp_path), "--limit", "3000"]) == 1
    assert "OVER" in capsys.readouterr().out


def test_missing_build_is_a_skip_not_a_failure(infra, tmp_path, capsys):
    bundle = infra("bundle_size")
    assert bundle.main(["--build-dir", str(tmp_path / "none")]) == 0
    assert capsys.readouterr().out.startswith("skip:")
    assert bundle.main(["--build-dir", str(tmp_path / "none"), "--strict"]) == 2


def test_deps_layer_leaves_out_what_the_runtime_has():
    reqs = (ROOT / "layers/deps/requirements.txt").read_text().lower()
    pinned = {line.split("==")[0].strip() for line in reqs.splitlines() if "==" in line and not line.startswith("#")}
    assert not pinned & {"boto3", "botocore", "s3transfer", "huggingface-hub", "uvicorn", "torch"}
    assert "--no-deps" in (ROOT / "layers/deps/Makefile").read_text()
