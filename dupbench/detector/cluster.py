"""Stage 5, cluster: exact copies joined, near matches grouped around their keeper, never chained.

Files with equal bytes or pixels are one picture (union-find over exact edges). Near matches are not
closed transitively: on real collections a chain A~B~C~... joined hundreds of distinct images (each
step looked alike, the ends did not). A near group is a keeper and the pictures that match *it*
directly: pictures are taken in keeper order (best copy first); each one not yet placed becomes a
keeper and takes every unplaced picture it matched. Then a group is re-centred on a member that matched
the keeper, every other member and pictures no group took: the same files plus those, each still a
direct match of its keeper. (Keeper order alone let an edited copy re-saved at a higher quality keep
its original and leave the original's other copies out: they match the original, often not the edit.)
A matched pair whose ends end up in different
groups (or one of them in none) is returned as left out, so it can be reviewed, never silently lost.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dupbench.detector.features import ImageFeatures
from dupbench.detector.ssim import ssim_one_to_many, ssim_terms
from dupbench.result import Group, Match, Member


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


def compression_weight(quality: int | None) -> float:
    """How much of its resolution a copy is credited with: 1 for lossless files and JPEGs of quality 90 or
    more, falling to 0.05 at quality 20 ((q - 20) / 70, squared).

    A 2x upscale saved at quality 50 has 4x the pixels of its original but is credited with 0.73x, so
    the original stays the keeper; a full-size original at quality 75 (0.62) still beats a 1/4-size copy.
    """
    if quality is None or quality >= 90:
        return 1.0
    return max(0.05, ((quality - 20) / 70.0) ** 2)


def keeper_rank(item: ImageFeatures) -> tuple:
    """Most credited pixels first (resolution times `compression_weight`), then resolution, then largest
    file, then the shortest file name, then path order. Resolution is the picture's, inside a plain
    border (borders.py): a bordered copy has more pixels, none of them more of the picture.

    The name rule keeps "IMG_1.jpg" over the copies a file manager makes ("IMG_1 (1).jpg", "IMG_1 copy.jpg").
    """
    credited = item.content_pixels * compression_weight(item.jpeg_quality)
    return (-credited, -item.content_pixels, -item.size_bytes, len(os.path.basename(item.path)), item.path)


@dataclass(frozen=True)
class Clusters:
    groups: list[Group]
    left_out: list[tuple[str, str, float]]  # matched near pairs (path, path, score) not inside one group


def exact_classes(n: int, exact_edges: Iterable[tuple[int, int]]) -> UnionFind:
    sets = UnionFind(n)
    for a, b in exact_edges:
        sets.union(a, b)
    return sets


def star_groups(order: Sequence[int], neighbours: dict[int, set[int]]) -> dict[int, list[int]]:
    """{keeper: members}: in `order`, each unplaced node keeps every unplaced node it matched directly."""
    position = {node: k for k, node in enumerate(order)}
    placed: set[int] = set()
    groups: dict[int, list[int]] = {}
    for node in order:
        if node in placed:
            continue
        members = sorted((o for o in neighbours.get(node, ()) if o in position and o not in placed), key=position.__getitem__)
        placed.add(node)
        if members:
            placed.update(members)
            groups[node] = members
    return groups


def recentred(stars: dict[int, list[int]], neighbours: dict[int, set[int]], order: Sequence[int]) -> dict[int, list[int]]:
    """`stars` with each re-centred, where it can be, on the member that matched the keeper, every other
    member and the most pictures no star took (in `order` on ties), which join; the rest as they were."""
    position = {node: k for k, node in enumerate(order)}
    placed = {node for centre, members in stars.items() for node in (centre, *members)}
    out: dict[int, list[int]] = {}
    for centre, members in stars.items():
        best: tuple[int, list[int]] | None = None
        for member in members:
            near = neighbours[member]
            if centre in near and all(other in near for other in members if other != member):
                extra = sorted((o for o in near if o not in placed), key=position.__getitem__)
                if extra and (best is None or len(extra) > len(best[1])):
                    best = (member, extra)
        if best is None:
            out[centre] = members
            continue
        member, extra = best
        placed.update(extra)
        out[member] = sorted([centre, *(o for o in members if o != member), *extra], key=position.__getitem__)
    return out


def cluster(features: Sequence[ImageFeatures], exact_edges: Iterable[tuple[int, int]], near_edges: Iterable[tuple[int, int, float]]) -> Clusters:
    """Exact classes, then keeper-centred near groups over them (see the module docstring)."""
    classes = exact_classes(len(features), exact_edges)
    members_of: dict[int, list[int]] = defaultdict(list)
    for i in range(len(features)):
        members_of[classes.find(i)].append(i)
    best = {root: min(items, key=lambda i: keeper_rank(features[i])) for root, items in members_of.items()}
    neighbours: dict[int, set[int]] = defaultdict(set)
    score: dict[tuple[int, int], float] = {}
    for a, b, value in near_edges:
        ra, rb = classes.find(a), classes.find(b)
        if ra != rb:
            neighbours[ra].add(rb)
            neighbours[rb].add(ra)
            key = (min(ra, rb), max(ra, rb))
            score[key] = max(score.get(key, value), value)
    order = sorted(members_of, key=lambda root: keeper_rank(features[best[root]]))
    linked = [r for r in order if r in neighbours]
    stars = recentred(star_groups(linked, neighbours), neighbours, linked)
    group_of = {m: k for k, ms in stars.items() for m in (k, *ms)}
    groups = []
    for root, items in members_of.items():
        if root in group_of:
            continue
        if len(items) > 1:
            groups.append(_group(features, items))
    for keeper, near in stars.items():
        known = {features[best[root]].identity: score[(min(keeper, root), max(keeper, root))] for root in near}
        groups.append(_group(features, [i for root in (keeper, *near) for i in members_of[root]], known, members_of[keeper]))
    left_out: list[tuple[str, str, float]] = []
    for (a, b), value in score.items():
        if group_of.get(a) is None or group_of.get(a) != group_of.get(b):
            first, second = sorted((features[best[a]].path, features[best[b]].path))
            left_out.append((first, second, round(value, 6)))
    left_out.sort()
    return Clusters(sorted(groups, key=lambda g: g.keeper), left_out)


def _group(features: Sequence[ImageFeatures], indices: Sequence[int], known: dict[bytes, float] | None = None, keepers: Sequence[int] | None = None) -> Group:
    """The group of `indices`, its keeper the best-ranked of `keepers` (a star's centre and its exact
    copies: every other member matched it) or of all."""
    first = min(keepers if keepers is not None else indices, key=lambda i: keeper_rank(features[i]))
    ordered = [first, *sorted((i for i in indices if i != first), key=lambda i: keeper_rank(features[i]))]
    keeper, others = features[ordered[0]], [features[i] for i in ordered[1:]]
    members = tuple(_members(keeper, others, known or {}))
    kind: Literal["exact", "near"] = "exact" if all(m.same_as == keeper.path for m in members) else "near"
    return Group(kind=kind, keeper=keeper.path, members=members)


def build_groups(features: Sequence[ImageFeatures], edges: Iterable[tuple[int, int]]) -> list[Group]:
    """Groups when every edge is exact (equal bytes or pixels): the connected components."""
    return cluster(features, edges, ()).groups


def _members(keeper: ImageFeatures, others: list[ImageFeatures], known: dict[bytes, float]) -> list[Member]:
    """Members in keeper-rank order; each identical copy names the best-ranked file it is identical to.

    A member's score is the match score that put it in the group (`known`, by identity: it may have
    matched turned or mirrored); identical copies score 1 and any other the thumbnails' SSIM."""
    heads: dict[bytes, ImageFeatures] = {keeper.identity: keeper}
    for other in others:
        heads.setdefault(other.identity, other)
    scores: dict[bytes, float] = {keeper.identity: 1.0, **{k: round(float(v), 6) for k, v in known.items()}}
    distinct = [h for h in heads.values() if h is not keeper and h.identity not in scores]
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
            match: Match = "bytes" if other.file_digest == head.file_digest else "pixels"
            members.append(Member(other.path, score, match, same_as=head.path))
    return members
