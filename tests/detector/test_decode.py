import io

import cv2
import numpy as np
import pytest
from PIL import Image
from planted import photo

import dupbench.detector.features
import dupbench.detector.ssim
from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector.decode import DecodeError, decode_image, jpeg_reduction, resolve_decoder
from dupbench.detector.pipeline import find_duplicates


@pytest.fixture
def image():
    return photo("astronaut", 120)


def test_decoders_agree_on_lossless_images(image):
    data = cv2.imencode(".png", image)[1].tobytes()
    assert np.array_equal(decode_image(data, "opencv"), decode_image(data, "pillow"))


@pytest.mark.parametrize("decoder", ["opencv", "pillow"])
def test_exif_orientation_is_applied(image, decoder):
    rgb = Image.fromarray(np.ascontiguousarray(image[..., ::-1]))
    stored = rgb.transpose(Image.Transpose.ROTATE_90)  # Orientation 6: the viewer rotates it back
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif)
    decoded = decode_image(buffer.getvalue(), decoder)
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image).mean() < 4


@pytest.mark.parametrize("decoder", ["opencv", "pillow"])
def test_garbage_raises_a_decode_error(decoder):
    with pytest.raises(DecodeError):
        decode_image(b"GIF89a but not really", decoder)


def test_resolve_decoder():
    assert resolve_decoder("auto") == "opencv"
    with pytest.raises(ValueError):
        resolve_decoder("magick")


def test_opencv_free_path_gives_the_same_groups(planted_folder, monkeypatch):
    """What a free-threaded interpreter (no cv2 wheel) runs: Pillow decode, Pillow/numpy thumbnails and SSIM."""
    root, expected = planted_folder
    with_cv2 = find_duplicates([str(root)], DetectorConfig(), ExecutionConfig(mode="serial"))
    monkeypatch.setattr(dupbench.detector.features, "cv2", None)
    monkeypatch.setattr(dupbench.detector.ssim, "cv2", None)
    monkeypatch.setattr("dupbench.detector.decode.cv2", None)
    without = find_duplicates([str(root)], DetectorConfig(), ExecutionConfig(mode="thread", workers=2))
    assert without.settings["decoder"] == "auto"
    assert without.group_sets() == with_cv2.group_sets() == {frozenset(g) for g in expected}
    ours = {m.path: m.ssim for g in without.groups for m in g.members}
    theirs = {m.path: m.ssim for g in with_cv2.groups for m in g.members}
    assert max(abs(ours[p] - theirs[p]) for p in ours) < 0.02


@pytest.mark.parametrize(
    "size, min_side, expected",
    [((4000, 3000), 64, 8), ((800, 600), 64, 8), ((400, 300), 64, 4), ((120, 200), 64, 1), (None, 64, 1), ((4000, 3000), 512, 4)],
)
def test_jpeg_reduction_keeps_the_short_side_at_least_min_side(size, min_side, expected):
    assert jpeg_reduction(size, min_side) == expected
