import cv2
import numpy as np
import pytest

from dupbench.config import DetectorConfig
from dupbench.features import ImageFeatures, thumbnail
from dupbench.load import load_features, pixel_digest_of
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
    assert png.pixel_digest is None, "the load stage defers the full-resolution digest"
    digest = {f.path: pixel_digest_of(f.path, f.file_digest, "opencv") for f in (png, bmp, jpg)}
    assert digest[png.path] == digest[bmp.path] and png.file_digest != bmp.file_digest
    assert digest[jpg.path] != digest[png.path]


def test_pixel_digest_is_not_taken_for_a_file_changed_since_load(tmp_path, image):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), image)
    item = load_features(str(path), DetectorConfig())
    cv2.imwrite(str(path), image[::-1])
    assert pixel_digest_of(str(path), item.file_digest, "opencv") is None


@pytest.mark.parametrize("decoder", ["opencv", "pillow"])
def test_large_jpeg_thumbnail_from_a_reduced_decode_matches_the_full_decode(tmp_path, decoder):
    big = cv2.resize(photo("chelsea", 96), (1200, 800), interpolation=cv2.INTER_CUBIC)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 95])
    item = load_features(str(path), DetectorConfig(thumb_size=32, decoder=decoder))
    full = thumbnail(cv2.imread(str(path)), 32).astype(int)
    assert (item.width, item.height) == (1200, 800)
    assert np.abs(item.thumb.astype(int) - full).max() <= 3


def test_exif_rotated_jpeg_reports_its_displayed_size(tmp_path):
    from PIL import Image

    picture = Image.fromarray(cv2.resize(photo("chelsea", 96), (1200, 800))[..., ::-1])
    exif = picture.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "turned.jpg"
    picture.save(path, exif=exif.tobytes())
    item = load_features(str(path), DetectorConfig())
    assert (item.width, item.height) == (800, 1200)


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
