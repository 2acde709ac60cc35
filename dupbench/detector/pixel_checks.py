"""Pixel checks: which files need a second, full decode to tell pixel-identical copies from near duplicates.

Most need none: the load stage digests every decode it does in full, and JPEGs whose coded data are
equal apart from metadata hold the same pixels. What is left is a reduced JPEG decode whose thumbnail
matched a file that can hold the same pixels (`features.may_hold_same_pixels`) and is not yet known to
be identical to it: one file of each such set of known copies is decoded in full.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace

from dupbench.detector.cluster import UnionFind
from dupbench.detector.features import DIGEST_BYTES, ImageFeatures


def copy_classes(features: Sequence[ImageFeatures]) -> UnionFind:
    """Files known to hold the same pixels without another decode: equal bytes, equal JPEG coded data
    (`features.jpeg_coded_digest`) or equal digests from the load's full decode."""
    classes = UnionFind(len(features))
    for key in ("file_digest", "coded_digest", "pixel_digest"):
        first: dict[bytes, int] = {}
        for index, item in enumerate(features):
            value = getattr(item, key)
            if value is not None:
                classes.union(first.setdefault(value, index), index)
    return classes


def known_digests(features: Sequence[ImageFeatures], classes: UnionFind) -> dict[int, bytes]:
    """{class root: the pixel digest one of its files already has}."""
    known: dict[int, bytes] = {}
    for index, item in enumerate(features):
        if item.pixel_digest is not None:
            root = classes.find(index)
            known[root] = min(known.get(root, item.pixel_digest), item.pixel_digest)
    return known


def to_decode(pairs: Sequence[tuple[int, int]], classes: UnionFind, known: Mapping[int, bytes]) -> list[int]:
    """One file (the first named in `pairs`) of each class without a digest that a pair may find identical
    to another class."""
    chosen: dict[int, int] = {}
    for a, b in pairs:
        ra, rb = classes.find(a), classes.find(b)
        if ra == rb:
            continue
        for root, index in ((ra, a), (rb, b)):
            if root not in known:
                chosen[root] = min(chosen.get(root, index), index)
    return sorted(chosen.values())


def coded_identity(coded_digest: bytes) -> bytes:
    """A pixel digest for JPEG copies known identical by their coded data alone (none was decoded in full);
    no decoded picture hashes to it."""
    return hashlib.blake2b(b"coded:" + coded_digest, digest_size=DIGEST_BYTES).digest()


def with_digests(features: Sequence[ImageFeatures], classes: UnionFind, digests: Mapping[int, bytes]) -> list[ImageFeatures]:
    """`features` with every file of a class given its class's digest: the decoded one where known, else
    `coded_identity` for classes of different files (joined by coded data). A class has one digest, so
    its files share one identity and come out as one exact match."""
    roots = [classes.find(i) for i in range(len(features))]
    distinct: dict[int, set[bytes]] = {}
    for root, item in zip(roots, features):
        distinct.setdefault(root, set()).add(item.file_digest)
    out = []
    for root, item in zip(roots, features):
        digest = digests.get(root)
        if digest is None and len(distinct[root]) > 1 and item.coded_digest is not None:
            digest = coded_identity(item.coded_digest)
        out.append(replace(item, pixel_digest=digest) if digest is not None and digest != item.pixel_digest else item)
    return out
