"""Stage 5, cluster: union-find over matched pairs, then one keeper per group."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Iterable, Sequence

import numpy as np

from dupbench.features import ImageFeatures
from dupbench.result import Group, Member
from dupbench.ssim import ssim_one_to_many, ssim_terms


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]

    def components(self) -> list[list[int]]:
        """Sets with more than one member, each sorted, in order of their smallest member."""
        members: dict[int, list[int]] = defaultdict(list)
        for x in range(len(self.parent)):
            members[self.find(x)].append(x)
        return [m for m in members.values() if len(m) > 1]


def keeper_rank(item: ImageFeatures) -> tuple:
    """Highest resolution first, then largest file, then the shortest file name, then path order.

    The name rule keeps "IMG_1.jpg" over the copies a file manager makes ("IMG_1 (1).jpg", "IMG_1 copy.jpg").
    """
    return (-item.pixels, -item.size_bytes, len(os.path.basename(item.path)), item.path)


def build_groups(features: Sequence[ImageFeatures], edges: Iterable[tuple[int, int]]) -> list[Group]:
    """Connected components of the match graph, each with its keeper and per-member match to it."""
    sets = UnionFind(len(features))
    for a, b in edges:
        sets.union(a, b)
    groups = []
    for component in sets.components():
        ordered = sorted(component, key=lambda i: keeper_rank(features[i]))
        keeper, others = features[ordered[0]], [features[i] for i in ordered[1:]]
        members = tuple(_members(keeper, others))
        kind = "exact" if all(m.same_as == keeper.path for m in members) else "near"
        groups.append(Group(kind=kind, keeper=keeper.path, members=members))
    return sorted(groups, key=lambda g: g.keeper)


def _members(keeper: ImageFeatures, others: list[ImageFeatures]) -> list[Member]:
    """Members in keeper-rank order; each identical copy names the best-ranked file it is identical to."""
    heads: dict[bytes, ImageFeatures] = {keeper.identity: keeper}
    for other in others:
        heads.setdefault(other.identity, other)
    distinct = [h for h in heads.values() if h is not keeper]
    scores: dict[bytes, float] = {keeper.identity: 1.0}
    if distinct:
        stack = np.stack([keeper.thumb, *(h.thumb for h in distinct)])
        terms = ssim_terms(stack)
        values = ssim_one_to_many(terms.take(slice(0, 1)), terms.take(slice(1, None)))
        scores.update((h.identity, round(float(v), 6)) for h, v in zip(distinct, values))
    members = []
    for other in others:
        head = heads[other.identity]
        score = scores[other.identity]
        if head is other:
            members.append(Member(other.path, score, "ssim"))
        else:
            match = "bytes" if other.file_digest == head.file_digest else "pixels"
            members.append(Member(other.path, score, match, same_as=head.path))
    return members
