"""Near-duplicate and topic grouping of short texts, shared by consultations (comment groups) and messages (common
problems): normalise (drop spaces and punctuation, lower case), take the set of 3-character shingles, and compare
sets with the Jaccard index |A∩B| / |A∪B|. Texts at or above the threshold join one group (single linkage)."""
from __future__ import annotations

import re
import zlib

_DROP_RE = re.compile(r"[\s\W_]+", re.UNICODE)
SIMILARITY_THRESHOLD = 0.6


def normalise(text: str) -> str:
    return _DROP_RE.sub("", (text or "").lower())


def shingles(text: str, k: int = 3) -> frozenset[str]:
    norm = normalise(text)
    if len(norm) <= k:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i:i + k] for i in range(len(norm) - k + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


EXACT_LIMIT = 2000  # up to this many distinct texts every candidate pair is compared exactly


def propose_groups(items: list[tuple[int, str]], threshold: float = SIMILARITY_THRESHOLD
                   ) -> list[tuple[list[int], float]]:
    """Group ids whose texts are near-duplicates (single linkage: A~B and B~C put A, B, C together).

    Returns (ids, lowest similarity of a joining pair) for each group of two or more. Identical texts (after
    normalising) are grouped first. Up to EXACT_LIMIT distinct texts, candidate pairs come from an inverted index
    of shingles and every pair sharing a shingle is compared exactly; beyond that (a mass campaign of many slightly
    edited copies) candidates come from MinHash signatures (see _lsh_pairs) and are confirmed with the exact Jaccard,
    so the work grows linearly with the number of comments.
    """
    by_text: dict[str, list[int]] = {}
    for cid, text in items:
        by_text.setdefault(normalise(text), []).append(cid)
    reps = {ids[0]: norm for norm, ids in by_text.items()}
    members = {ids[0]: ids for ids in by_text.values()}
    sets = {cid: shingles(norm) for cid, norm in reps.items()}
    parent = {cid: cid for cid in sets}
    lowest: dict[int, float] = {}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a, b, sim):
        ra, rb = find(a), find(b)
        low = min(sim, lowest.get(ra, 1.0), lowest.get(rb, 1.0))
        if ra != rb:
            parent[rb] = ra
        lowest[ra] = low

    pairs = _exact_pairs(sets) if len(sets) <= EXACT_LIMIT else _lsh_pairs(sets, find)
    for a, b in pairs:
        sim = jaccard(sets[a], sets[b])
        if sim >= threshold:
            join(a, b, sim)
    groups: dict[int, list[int]] = {}
    for rep in sets:
        groups.setdefault(find(rep), []).extend(members[rep])
    return [(sorted(ids), round(lowest.get(root, 1.0), 3)) for root, ids in groups.items() if len(ids) > 1]


def _exact_pairs(sets: dict[int, frozenset]):
    index: dict[str, list[int]] = {}
    for cid, s in sets.items():
        for sh in s:
            index.setdefault(sh, []).append(cid)
    for cid, s in sets.items():
        seen = set()
        for sh in s:
            for other in index[sh]:
                if other > cid and other not in seen:
                    seen.add(other)
                    yield cid, other


MINHASH_BANDS, MINHASH_ROWS = 20, 3  # P(candidate) is 0.99 at Jaccard 0.6 and 0.42 at 0.3
REPS_PER_BUCKET = 5


def _lsh_pairs(sets: dict[int, frozenset], find):
    """Candidate pairs from MinHash locality-sensitive hashing: texts whose signatures agree on a whole band
    share a bucket; each text in a bucket is compared with at most REPS_PER_BUCKET groups already found there."""
    # numpy is imported only when comments are grouped: it costs every web worker ~20 MB and 0.1 s otherwise.
    import numpy as np

    prime = (1 << 31) - 1
    rng = np.random.default_rng(20260214)
    k = MINHASH_BANDS * MINHASH_ROWS
    a = rng.integers(1, prime, size=(k, 1), dtype=np.int64)
    b = rng.integers(0, prime, size=(k, 1), dtype=np.int64)
    ids = [cid for cid, s in sets.items() if s]
    signatures = np.empty((len(ids), k), dtype=np.int64)
    for row, cid in enumerate(ids):
        x = np.fromiter((zlib.crc32(sh.encode("utf-8")) % prime for sh in sets[cid]), dtype=np.int64)
        signatures[row] = ((a * x + b) % prime).min(axis=1)
    for band in range(MINHASH_BANDS):
        buckets: dict[bytes, list[int]] = {}
        chunk = signatures[:, band * MINHASH_ROWS:(band + 1) * MINHASH_ROWS]
        for row, cid in enumerate(ids):
            buckets.setdefault(chunk[row].tobytes(), []).append(cid)
        for bucket in buckets.values():
            if len(bucket) < 2:
                continue
            reps: list[int] = []
            for cid in bucket:
                for rep in reps:
                    yield rep, cid
                if len(reps) < REPS_PER_BUCKET and all(find(r) != find(cid) for r in reps):
                    reps.append(cid)
