"""The lexical (BM25) index of searchable (active) memories: derived from DuckDB, like the FAISS index.

Word overlap finds what a small dense model misses (names, places, rare words), so search fuses
both (``ops.search``, mode ``hybrid``). The index lives in the replica next to FAISS and is kept in
step by replay (``engine.replay``): adds, text edits and state changes update it incrementally.
A format-2 checkpoint carries each memory's terms (``TOKENIZER`` names their version): a cold
replica loads them as a frozen base of per-term numpy postings (``from_postings``; DuckDB
groups them, no text is re-tokenized), on which later changes are an overlay. Otherwise (format
1) it is built lazily from DuckDB's active rows on the first lexical or hybrid search.

Postings are dicts ``term -> {vid: tf}`` with per-term numpy arrays cached until the term's postings
change; document lengths are a dense float array indexed by vid. A query scores only the documents
that share a term with it, and ``allowed`` (the exact filter set) restricts them before ranking:
a filtered-out memory can never be returned.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

__all__ = ["LexicalIndex", "tokenize", "STOP_WORDS", "TOKENIZER"]

TOKENIZER = 1  # bump when tokenize() changes: stored terms of another version are not used

# Tuned on LoCoMo dev: short texts of similar length want little length normalisation
# (lexical R@10 63.7 at k1=0.9, b=0.3 vs 62.4 at the textbook 1.2 / 0.75).
K1 = 0.9
B = 0.3

_WORD = re.compile(r"\w+", re.UNICODE)

# A light list: function words only. Content words (even common ones) keep their BM25 weight.
STOP_WORDS = frozenset(
    """
    a an the and or but if then else of to in on at by for with from into onto over under about as
    is am are was were be been being do does did doing have has had having will would shall should can
    could may might must i me my mine myself you your yours yourself he him his himself she her hers
    herself it its itself we us our ours ourselves they them their theirs themselves this that these
    those there here what which who whom whose when where why how so than too very just not no nor
    s t d ll m re ve o y also any some such own same only both each few more most other all
    """.split()
)


def _stem(word: str) -> str:
    """A few inflectional suffixes (plural, -ing, -ed, final -e): 'paintings'/'painted' -> 'paint',
    'baked'/'baking'/'bakes' -> 'bak', 'running'/'runs' -> 'run'. Cheap; no dictionary."""
    n = len(word)
    if n <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and n > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("es") and n > 4 and word[-3] in "sxzh":
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4 and not word.endswith("eed"):
        word = word[:-2]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz" and word[-1] not in "aeiou":
        word = word[:-1]  # running -> runn -> run
    if len(word) > 3 and word.endswith("e") and not word.endswith("ee"):
        word = word[:-1]  # bake -> bak, matching baked/baking
    return word


def tokenize(text: str, stem: bool = True) -> list[str]:
    """Lowercase unicode word tokens, stop words dropped, lightly stemmed."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS and w != "_"]
    return [_stem(w) for w in words] if stem else words


class LexicalIndex:
    """BM25 (Okapi) over the active memories' text, with exact id filtering."""

    def __init__(self, k1: float = K1, b: float = B, stem: bool = True) -> None:
        self.k1, self.b, self.stem = k1, b, stem
        self._post: dict[str, dict[int, int]] = {}
        self._docs: dict[int, Counter[str]] = {}
        self._len = np.zeros(1024, dtype=np.float32)
        self._total = 0
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        # the frozen base (``from_postings``): term -> its slice of (sorted vids, tf), and which base docs are still in
        self._base: dict[str, int] = {}
        self._bounds = np.zeros(1, dtype=np.int64)
        self._base_vids = np.empty(0, dtype=np.int64)
        self._base_tfs = np.empty(0, dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)
        self._base_n = 0

    @classmethod
    def from_postings(
        cls, terms: list[str], bounds: np.ndarray, vids: np.ndarray, tfs: np.ndarray, doc_vids: np.ndarray, doc_lens: np.ndarray,
    ) -> LexicalIndex:
        """A frozen base: ``terms[i]``'s postings are ``vids[bounds[i]:bounds[i+1]]`` (sorted) with
        ``tfs`` alike; ``doc_lens`` are the term counts of ``doc_vids`` (every indexed document)."""
        lex = cls()
        lex._base_vids = np.asarray(vids, dtype=np.int64)
        lex._base_tfs = np.asarray(tfs, dtype=np.float32)
        lex._bounds = np.asarray(bounds, dtype=np.int64)
        lex._base = dict(zip(terms, range(len(terms)), strict=True))  # slices are cut on first use
        top = int(doc_vids.max()) + 1 if len(doc_vids) else 0
        lex._len = np.zeros(max(1024, 2 * top), dtype=np.float32)
        lex._len[doc_vids] = doc_lens
        lex._alive = np.zeros(len(lex._len), dtype=bool)
        lex._alive[doc_vids] = True
        lex._base_n = len(doc_vids)
        lex._total = int(np.asarray(doc_lens, dtype=np.int64).sum())
        return lex

    def _in_base(self, vid: int) -> bool:
        return vid < len(self._alive) and bool(self._alive[vid])

    def _drop_base(self, vid: int) -> None:
        """A base document leaves (removed, or re-indexed into the overlay): its postings are
        masked at query time, and cached arrays (which may hold it) are recomputed."""
        self._alive[vid] = False
        self._base_n -= 1
        self._total -= int(self._len[vid])
        self._len[vid] = 0
        self._arrays.clear()

    # -- maintenance -----------------------------------------------------------------------
    @property
    def size(self) -> int:
        return len(self._docs) + self._base_n

    def ids(self) -> np.ndarray:
        overlay = np.fromiter(self._docs, dtype=np.int64, count=len(self._docs))
        return np.sort(np.concatenate([np.flatnonzero(self._alive).astype(np.int64), overlay]))

    def add(self, vids: Iterable[int], texts: Iterable[str]) -> None:
        """Index (or re-index) each vid with its text."""
        for vid, text in zip(vids, texts):
            vid = int(vid)
            if vid in self._docs:
                self._drop(vid)
            elif self._in_base(vid):
                self._drop_base(vid)
            terms = Counter(tokenize(text, self.stem))
            self._docs[vid] = terms
            if vid >= len(self._len):
                grown = np.zeros(max(vid + 1, 2 * len(self._len)), dtype=np.float32)
                grown[: len(self._len)] = self._len
                self._len = grown
                alive = np.zeros(len(grown), dtype=bool)
                alive[: len(self._alive)] = self._alive
                self._alive = alive
            length = sum(terms.values())
            self._len[vid] = length
            self._total += length
            for term, tf in terms.items():
                self._post.setdefault(term, {})[vid] = tf
                self._arrays.pop(term, None)

    def remove(self, vids: Iterable[int]) -> None:
        for vid in vids:
            vid = int(vid)
            if vid in self._docs:
                self._drop(vid)
            elif self._in_base(vid):
                self._drop_base(vid)

    def _drop(self, vid: int) -> None:
        terms = self._docs.pop(vid)
        self._total -= int(self._len[vid])
        self._len[vid] = 0
        for term in terms:
            post = self._post.get(term)
            if post is not None:
                post.pop(vid, None)
                if not post:
                    del self._post[term]
            self._arrays.pop(term, None)

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        arr = self._arrays.get(term)
        if arr is None:
            post = self._post.get(term)
            i = self._base.get(term)
            base = None
            if i is not None:
                lo, hi = int(self._bounds[i]), int(self._bounds[i + 1])
                bv, bt = self._base_vids[lo:hi], self._base_tfs[lo:hi]
                keep = self._alive[bv]
                base = (bv[keep], bt[keep])
            if post:
                over = (np.fromiter(post.keys(), dtype=np.int64, count=len(post)),
                        np.fromiter(post.values(), dtype=np.float32, count=len(post)))
                arr = over if base is None else (np.concatenate([base[0], over[0]]), np.concatenate([base[1], over[1]]))
            elif base is not None and len(base[0]):
                arr = base
            else:
                return None
            self._arrays[term] = arr
        return arr

    # -- query -----------------------------------------------------------------------------
    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(vids, BM25 scores) of every indexed document sharing a term with ``query``."""
        n = self.size
        terms = list(dict.fromkeys(tokenize(query, self.stem)))
        if n == 0 or not terms:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        avgdl = max(self._total / n, 1e-9)
        parts_v, parts_s = [], []
        for term in terms:
            post = self._postings(term)
            if post is None:
                continue
            vids, tf = post
            df = len(vids)
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            norm = self.k1 * (1.0 - self.b + self.b * self._len[vids] / avgdl)
            parts_v.append(vids)
            parts_s.append(idf * tf * (self.k1 + 1.0) / (tf + norm))
        if not parts_v:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if len(parts_v) == 1:
            order = np.argsort(parts_v[0], kind="stable")
            return parts_v[0][order], parts_s[0][order].astype(np.float32)
        vids = np.concatenate(parts_v)
        uniq, inv = np.unique(vids, return_inverse=True)
        return uniq, np.bincount(inv, weights=np.concatenate(parts_s)).astype(np.float32)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, vids) with a positive score, only among ``allowed`` vids when given."""
        vids, scores = self.scores(query)
        return self.top(vids, scores, k, allowed)

    @staticmethod
    def top(vids: np.ndarray, scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, vids) of a ``scores()`` result, only among ``allowed`` vids when given."""
        if allowed is not None and len(vids):
            keep = np.isin(vids, np.asarray(allowed, dtype=np.int64))
            vids, scores = vids[keep], scores[keep]
        if k <= 0 or len(vids) == 0:
            return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
        if len(vids) > k:
            top = np.argpartition(-scores, k - 1)[:k]
            vids, scores = vids[top], scores[top]
        order = np.lexsort((vids, -scores))  # score desc, then vid asc: deterministic ties
        return scores[order], vids[order]

    def score_of(self, query: str, vids: np.ndarray) -> np.ndarray:
        """BM25 scores of ``vids`` for ``query`` (0 for a document sharing no term)."""
        return self.lookup(*self.scores(query), vids)

    @staticmethod
    def lookup(all_vids: np.ndarray, all_scores: np.ndarray, vids: np.ndarray) -> np.ndarray:
        """Scores of ``vids`` in a ``scores()`` result (sorted vids), 0 where absent."""
        out = np.zeros(len(vids), dtype=np.float32)
        if len(all_vids) and len(vids):
            pos = np.clip(np.searchsorted(all_vids, vids), 0, len(all_vids) - 1)
            hit = all_vids[pos] == vids
            out[hit] = all_scores[pos[hit]]
        return out
