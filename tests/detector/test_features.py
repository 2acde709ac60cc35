import numpy as np
import pytest
from planted import photo

from dupbench.detector.features import colour_grid, file_digest, luma, pixel_digest, resize_plane, small_views, thumbnail


@pytest.mark.parametrize("width", [160, 97, 64])
def test_numpy_thumbnail_equals_opencv_inter_area(width):
    image = photo("coffee", width)
    assert np.abs(thumbnail(image, 32).astype(int) - thumbnail(image, 32, use_cv2=False)).max() <= 1


def test_pixel_digest_depends_on_shape_and_pixels():
    flat = np.zeros((4, 6, 3), np.uint8)
    assert pixel_digest(flat) != pixel_digest(flat.reshape(6, 4, 3))
    assert pixel_digest(flat) == pixel_digest(flat.copy())
    assert file_digest(b"a") != file_digest(b"b") and len(file_digest(b"a")) == 16


@pytest.mark.parametrize("name, width", [("coffee", 400), ("astronaut", 257), ("chelsea", 64), ("rocket", 63)])
def test_small_views_equal_direct_resizes_up_to_rounding(name, width):
    """One resize to the detail side, then down from it, is the full image's area average up to rounding."""
    image = photo(name, width)
    thumb, detail, colour = small_views(image, 32, 64)
    gray = luma(image)
    assert np.abs(thumb.astype(int) - resize_plane(gray, 32)).max() <= 1
    assert np.abs(detail.astype(int) - resize_plane(gray, 64)).max() <= 1
    assert np.abs(colour - colour_grid(image)).max() <= 2.5
    if min(image.shape[:2]) < 64:  # too small to take the short way: exactly the direct resizes
        assert np.array_equal(thumb, resize_plane(gray, 32)) and np.array_equal(detail, resize_plane(gray, 64))
