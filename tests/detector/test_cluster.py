import numpy as np

from dupbench.detector.cluster import UnionFind, build_groups, cluster, keeper_rank
from dupbench.detector.features import ImageFeatures


def item(path, w, h, size, fd=b"f", pd=b"p", seed=0):
    thumb = np.random.default_rng(seed).integers(0, 256, (16, 16), dtype=np.uint8)
    return ImageFeatures(path, size, w, h, fd + path.encode(), pd + path.encode(), thumb)


def test_union_find_components():
    sets = UnionFind(6)
    for a, b in [(0, 1), (4, 5), (1, 2)]:
        sets.union(a, b)
    assert sorted(sets.components()) == [[0, 1, 2], [4, 5]]


def test_keeper_is_highest_resolution_then_largest_file_then_path():
    items = [item("b", 10, 10, 5), item("a", 10, 10, 5), item("c", 10, 10, 9), item("d", 20, 10, 1)]
    assert [i.path for i in sorted(items, key=keeper_rank)] == ["d", "c", "a", "b"]


def test_at_equal_size_the_original_name_beats_a_file_managers_copy_name():
    items = [item("/p/IMG_1 (1).jpg", 10, 10, 5), item("/p/IMG_1 copy.jpg", 10, 10, 5), item("/p/IMG_1.jpg", 10, 10, 5)]
    assert sorted(items, key=keeper_rank)[0].path == "/p/IMG_1.jpg"


def test_groups_name_match_kinds_against_the_keeper():
    same_bytes = item("copy", 10, 10, 5)
    same_bytes = ImageFeatures("copy", 5, 10, 10, b"fkeep", b"pkeep", same_bytes.thumb)
    keeper = ImageFeatures("keep", 5, 10, 10, b"fkeep", b"pkeep", same_bytes.thumb)
    same_pixels = ImageFeatures("bmp", 9, 10, 10, b"fx", b"pkeep", same_bytes.thumb)
    near = ImageFeatures("near", 3, 8, 8, b"fy", b"py", same_bytes.thumb)
    lone = item("lone", 10, 10, 5, seed=1)
    groups = build_groups([keeper, same_bytes, same_pixels, near, lone], [(0, 1), (0, 2), (2, 3)])
    assert len(groups) == 1
    group = groups[0]
    assert group.kind == "near" and group.keeper == "bmp"  # larger file at equal resolution
    matches = {m.path: (m.match, m.ssim) for m in group.members}
    assert matches == {"keep": ("pixels", 1.0), "copy": ("pixels", 1.0), "near": ("ssim", 1.0)}


def test_near_matches_do_not_chain_and_left_out_pairs_are_reported():
    # a ~ b ~ c ~ d, where only neighbours look alike: a keeps b; c keeps d; b ~ c is left out, not merged.
    items = [item(p, 40 - k, 10, 5, seed=k) for k, p in enumerate("abcd")]
    result = cluster(items, [], [(0, 1, 0.9), (1, 2, 0.8), (2, 3, 0.85)])
    assert {g.keeper: [m.path for m in g.members] for g in result.groups} == {"a": ["b"], "c": ["d"]}
    assert result.left_out == [("b", "c", 0.8)]


def test_a_near_group_holds_only_direct_matches_of_its_keeper():
    items = [item(p, 40 - k, 10, 5, seed=k) for k, p in enumerate("kxyz")]
    result = cluster(items, [], [(0, 1, 0.9), (0, 2, 0.9), (2, 3, 0.9)])
    assert {g.keeper: sorted(m.path for m in g.members) for g in result.groups} == {"k": ["x", "y"]}
    assert result.left_out == [("y", "z", 0.9)]


def test_compression_weight_credits_low_quality_jpegs_with_fewer_pixels():
    original = ImageFeatures("o.jpg", 9, 100, 100, b"f1", None, np.zeros((16, 16), np.uint8), jpeg_quality=92)
    upscale = ImageFeatures("u.jpg", 20, 200, 200, b"f2", None, np.zeros((16, 16), np.uint8), jpeg_quality=50)
    small = ImageFeatures("s.jpg", 2, 50, 50, b"f3", None, np.zeros((16, 16), np.uint8), jpeg_quality=95)
    assert [i.path for i in sorted([upscale, small, original], key=keeper_rank)] == ["o.jpg", "u.jpg", "s.jpg"]


def test_a_group_is_recentred_on_the_member_that_every_copy_matched():
    # An edited copy re-saved larger ranks first and keeps the original; the original's re-encoded copy
    # matches the original but not the edit. Re-centred on the original, the group holds all three, each
    # a direct match of the keeper, and the original is kept rather than its edit.
    edited, original, webp = item("edited.jpg", 50, 50, 9, seed=1), item("original.jpg", 50, 50, 5, seed=0), item("copy.webp", 50, 50, 3, seed=2)
    result = cluster([edited, original, webp], [], [(0, 1, 0.9), (1, 2, 0.95)])
    assert {g.keeper: sorted(m.path for m in g.members) for g in result.groups} == {"original.jpg": ["copy.webp", "edited.jpg"]}
    assert result.left_out == []


def test_recentring_never_splits_a_group_or_takes_a_placed_picture():
    # k keeps x and y; y also matched z, but z is the keeper of its own group (it matched w): nothing moves.
    items = [item(p, 40 - n, 10, 5, seed=n) for n, p in enumerate("kxyzw")]
    result = cluster(items, [], [(0, 1, 0.9), (0, 2, 0.9), (1, 2, 0.9), (2, 3, 0.9), (3, 4, 0.9)])
    assert {g.keeper: sorted(m.path for m in g.members) for g in result.groups} == {"k": ["x", "y"], "z": ["w"]}
    assert result.left_out == [("y", "z", 0.9)]
