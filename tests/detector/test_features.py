import numpy as np
import pytest
from planted import photo

from dupbench.detector.features import file_digest, pixel_digest, thumbnail


@pytest.mark.parametrize("width", [160, 97, 64])
def test_numpy_thumbnail_equals_opencv_inter_area(width):
    image = photo("coffee", width)
    assert np.abs(thumbnail(image, 32).astype(int) - thumbnail(image, 32, use_cv2=False)).max() <= 1


def test_pixel_digest_depends_on_shape_and_pixels():
    flat = np.zeros((4, 6, 3), np.uint8)
    assert pixel_digest(flat) != pixel_digest(flat.reshape(6, 4, 3))
    assert pixel_digest(flat) == pixel_digest(flat.copy())
    assert file_digest(b"a") != file_digest(b"b") and len(file_digest(b"a")) == 16
