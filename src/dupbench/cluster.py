"""Stage 5, cluster: union-find over matched pairs, then one keeper per group."""

from __future__ import annotations

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
    """Highest resolution first, then largest file, then path order."""
    return (-item.pixels, -item.size_bytes, item.path)


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
        kind = "near" if any(m.match == "ssim" for m in members) else "exact"
        groups.append(Group(kind=kind, keeper=keeper.path, members=members))
    return sorted(groups, key=lambda g: g.keeper)


def _members(keeper: ImageFeatures, others: list[ImageFeatures]) -> list[Member]:
    near = [o for o in others if o.file_digest != keeper.file_digest and o.pixel_digest != keeper.pixel_digest]
    scores: dict[str, float] = {}
    if near:
        stack = np.stack([keeper.thumb, *(o.thumb for o in near)])
        terms = ssim_terms(stack)
        values = ssim_one_to_many(terms.take(slice(0, 1)), terms.take(slice(1, None)))
        scores = {o.path: float(v) for o, v in zip(near, values)}
    members = []
    for other in others:
        if other.file_digest == keeper.file_digest:
            members.append(Member(other.path, 1.0, "bytes"))
        elif other.pixel_digest == keeper.pixel_digest:
            members.append(Member(other.path, 1.0, "pixels"))
        else:
            members.append(Member(other.path, round(scores[other.path], 6), "ssim"))
    return members
