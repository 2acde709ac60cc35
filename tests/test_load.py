import cv2
import numpy as np
import pytest

from dupbench.config import DetectorConfig
from dupbench.features import ImageFeatures
from dupbench.load import load_features
from dupbench.result import Skipped

from planted import photo


@pytest.fixture
def image():
    return photo("chelsea", 96)


def test_features_of_a_valid_image(tmp_path, image):
    path = tmp_path / "cat.png"
    cv2.imwrite(str(path), image)
    item = load_features(str(path), DetectorConfig(thumb_size=32))
    assert isinstance(item, ImageFeatures)
    assert (item.width, item.height) == (image.shape[1], image.shape[0])
    assert item.thumb.shape == (32, 32) and item.thumb.dtype == np.uint8
    assert item.size_bytes == path.stat().st_size


def test_same_pixels_in_another_format_share_the_pixel_digest_only(tmp_path, image):
    cv2.imwrite(str(tmp_path / "a.png"), image)
    cv2.imwrite(str(tmp_path / "a.bmp"), image)
    cv2.imwrite(str(tmp_path / "a.jpg"), image)
    png, bmp, jpg = (load_features(str(tmp_path / n), DetectorConfig()) for n in ("a.png", "a.bmp", "a.jpg"))
    assert png.pixel_digest == bmp.pixel_digest and png.file_digest != bmp.file_digest
    assert jpg.pixel_digest != png.pixel_digest


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (b"this is text, not an image", "not a decodable image"),
        (None, "truncated JPEG (no end-of-image marker)"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(tmp_path, image, content, reason):
    if content is None:
        content = cv2.imencode(".jpg", image)[1].tobytes()[:-200]
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    item = load_features(str(path), DetectorConfig())
    assert item == Skipped(str(path), reason)


def test_pixel_limit_refuses_before_decoding(tmp_path, image):
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), image)
    item = load_features(str(path), DetectorConfig(max_pixels=100))
    assert isinstance(item, Skipped) and item.reason.startswith("image too large")


def test_vanished_file_is_skipped(tmp_path):
    item = load_features(str(tmp_path / "gone.png"), DetectorConfig())
    assert isinstance(item, Skipped) and item.reason.startswith("unreadable")
