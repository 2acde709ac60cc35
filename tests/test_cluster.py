import numpy as np

from dupbench.cluster import UnionFind, build_groups, keeper_rank
from dupbench.features import ImageFeatures


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
