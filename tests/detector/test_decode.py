import io

import cv2
import numpy as np
import pytest
from PIL import Image
from planted import photo

import dupbench.detector.features
import dupbench.detector.ssim
from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector.decode import DecodeError, decode_colour, decode_image, decode_png_spng, jpeg_reduction, resolve_decoder
from dupbench.detector.features import pixel_digest_with_alpha
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


def png_bytes(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **params)
    return buffer.getvalue()


def opencv_colour(data: bytes, has_alpha: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """What decode_colour gave before the libspng path: OpenCV's colour decode, and its unchanged one for alpha."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("dupbench.detector.decode.imagecodecs", None)
        return decode_colour(data, "opencv", has_alpha=has_alpha)


def png_cases(image: np.ndarray) -> dict[str, tuple[bytes, bool, bool]]:
    """name: (PNG bytes, whether the header says it has alpha, whether libspng should decode it)."""
    rgb = Image.fromarray(np.ascontiguousarray(image[..., ::-1]))
    alpha = Image.fromarray(np.tile(np.linspace(0, 255, image.shape[1]).astype(np.uint8), (image.shape[0], 1)))
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    palette = rgb.quantize(64)
    exif = Image.Exif()
    exif[0x0112] = 6
    return {
        "rgb": (png_bytes(rgb), False, True),
        "rgba": (png_bytes(rgba), True, True),
        "palette": (png_bytes(palette), False, True),
        "palette with a transparent colour": (png_bytes(palette, transparency=0), True, False),
        "rgb with a transparent colour": (png_bytes(rgb, transparency=(0, 0, 0)), True, False),
        "grey": (png_bytes(rgb.convert("L")), False, False),
        "16-bit": (cv2.imencode(".png", image.astype(np.uint16) * 257)[1].tobytes(), False, False),
        "exif orientation": (png_bytes(rgb, exif=exif), False, False),
    }


@pytest.mark.parametrize("case", list(png_cases(photo("astronaut", 40))))
def test_png_decodes_to_the_pixels_opencv_gives(image, case):
    """PNG is lossless: libspng's decode must equal OpenCV's exactly (colour, alpha, EXIF turn), or not be used."""
    data, has_alpha, fast = png_cases(image)[case]
    assert (decode_png_spng(data, has_alpha) is not None) == fast
    expected_colour, expected_alpha = opencv_colour(data, has_alpha)
    colour, alpha = decode_colour(data, "opencv", has_alpha=has_alpha)
    assert np.array_equal(colour, expected_colour)
    assert (alpha is None) == (expected_alpha is None)
    assert alpha is None or np.array_equal(alpha, expected_alpha)
    assert pixel_digest_with_alpha(colour, alpha) == pixel_digest_with_alpha(expected_colour, expected_alpha)


def outcome(decode, data: bytes) -> np.ndarray | str:
    try:
        return decode(data, False)[0]
    except DecodeError as exc:
        return str(exc)


@pytest.mark.parametrize("corrupt", ["image data", "image data's checksum"])
def test_a_corrupt_png_gets_the_outcome_opencv_gave(image, corrupt):
    """A damaged PNG is skipped with OpenCV's reason, or decoded to OpenCV's pixels, as before libspng."""
    data = bytearray(png_cases(image)["rgb"][0])
    start = data.find(b"IDAT")
    length = int.from_bytes(data[start - 4 : start], "big")
    data[start + 40 if corrupt == "image data" else start + 4 + length] ^= 0xFF
    fast = outcome(lambda d, a: decode_colour(d, "opencv", has_alpha=a), bytes(data))
    before = outcome(opencv_colour, bytes(data))
    assert type(fast) is type(before)
    assert fast == before if isinstance(before, str) else np.array_equal(fast, before)
