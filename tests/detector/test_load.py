import io
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image
from planted import photo

import dupbench.detector.load
from dupbench.config import DetectorConfig
from dupbench.detector.features import ImageFeatures, thumbnail
from dupbench.detector.load import load_features, pixel_digest_of
from dupbench.result import Skipped


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
    digest = {f.path: pixel_digest_of(f.path, f.file_digest, "opencv") for f in (png, bmp, jpg)}
    assert digest[png.path] == digest[bmp.path] and png.file_digest != bmp.file_digest
    assert digest[jpg.path] != digest[png.path]
    assert png.pixel_digest == digest[png.path], "a full decode at load is digested at once"


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


def never_decode(*args, **kwargs):
    raise AssertionError("a decoder ran on a file whose header is over the limit")


def hdr_header(width: int, height: int) -> bytes:
    return b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (height, width) + bytes(4096)


def small_image_as(ext: str, image: np.ndarray) -> bytes:
    if ext in (".hdr", ".pfm"):
        return cv2.imencode(ext, image.astype(np.float32) / 255)[1].tobytes()
    if ext == ".gif":
        buffer = io.BytesIO()
        Image.fromarray(image[..., ::-1]).save(buffer, "GIF")
        return buffer.getvalue()
    return cv2.imencode(ext, image)[1].tobytes()


@pytest.mark.parametrize("ext", [".jpg", ".png", ".bmp", ".tif", ".webp", ".gif", ".ppm", ".pam", ".pfm", ".hdr"])
def test_every_format_has_its_size_checked_before_any_decoder_runs(tmp_path, image, monkeypatch, ext):
    path = tmp_path / "small.jpg"  # named .jpg whatever it is: the content decides
    path.write_bytes(small_image_as(ext, image))
    assert isinstance(load_features(str(path), DetectorConfig()), ImageFeatures)  # decodable within limits
    monkeypatch.setattr(dupbench.detector.load, "decode_colour", never_decode)
    item = load_features(str(path), DetectorConfig(max_pixels=100))
    assert isinstance(item, Skipped) and item.reason.startswith("image too large"), item


def test_radiance_hdr_named_jpg_claiming_30000x30000_is_skipped_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "photo.jpg"
    path.write_bytes(hdr_header(30000, 30000))
    monkeypatch.setattr(dupbench.detector.load, "decode_colour", never_decode)
    item = load_features(str(path), DetectorConfig())
    assert isinstance(item, Skipped) and item.reason.startswith("image too large: 30000x30000"), item


def test_float_formats_count_their_bytes_per_pixel(tmp_path, monkeypatch):
    """2^28 / 4 pixels of 12-byte float pixels cost what 2^28 8-bit colour pixels do: the limit."""
    monkeypatch.setattr(dupbench.detector.load, "decode_colour", never_decode)
    path = tmp_path / "wide.hdr"
    path.write_bytes(hdr_header(16384, 8192))  # 2^27 pixels: under the pixel limit, 1.5 GiB as floats
    item = load_features(str(path), DetectorConfig())
    assert isinstance(item, Skipped) and "float format" in item.reason, item


def test_opencv_refuses_headers_above_the_pixel_limit_as_a_second_line_of_defence():
    """Even called directly, OpenCV refuses a header over 2^28 pixels (it allows 2^30 by default)."""
    script = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "import numpy as np, dupbench.detector.decode, cv2\n"
        f"data = np.frombuffer({hdr_header(20000, 20000)!r}, np.uint8)\n"
        "try:\n    cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)\nexcept cv2.error as exc:\n    print(exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env).stdout
    assert "CV_IO_MAX_IMAGE_PIXELS" in out


def test_file_above_max_file_size_is_skipped_unread(tmp_path, image, monkeypatch):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), image)
    size = path.stat().st_size
    item = load_features(str(path), DetectorConfig(max_file_size=size - 1))
    assert isinstance(item, Skipped) and item.reason.startswith("file too large") and "--max-file-size" in item.reason
    assert isinstance(load_features(str(path), DetectorConfig(max_file_size=size)), ImageFeatures)


SPARSE_SCRIPT = """
import json, os, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_LIMIT, ADDRESS_LIMIT))
from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector import find_duplicates
report = find_duplicates([sys.argv[1]], DetectorConfig(), ExecutionConfig(sys.argv[2], 2, "fork"))
# VmHWM, not RUSAGE_SELF: ru_maxrss survives exec, so it would include the RSS pytest had when it forked us
own = int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")).split()[1])
peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"skipped": {os.path.basename(s.path): s.reason for s in report.skipped}, "images": report.counts["images"], "peak_kib": peak}))
"""


@pytest.mark.parametrize("mode", ["serial", "process"])
def test_sparse_huge_files_are_skipped_without_being_read(tmp_path, image, mode):
    root = tmp_path / "huge"
    root.mkdir()
    cv2.imwrite(str(root / "real.png"), image)
    for name, head in (("zeros.jpg", b""), ("huge.png", cv2.imencode(".png", image)[1].tobytes())):
        with open(root / name, "wb") as fh:  # 1.5 GB that cost no disk: a hole after the header
            fh.write(head)
            fh.truncate(1536 * 2**20)
    limit = 3 << 30  # address space, not memory: the imports map ~0.5 GB; holds the machine safe whatever happens
    script = SPARSE_SCRIPT.replace("ADDRESS_LIMIT", str(limit))
    done = subprocess.run([sys.executable, "-c", script, str(root), mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["images"] == 1
    assert set(result["skipped"]) == {"zeros.jpg", "huge.png"}, result
    assert all(r.startswith("file too large: 1536.0 MiB") for r in result["skipped"].values())
    assert result["peak_kib"] < 400 * 1024, result  # no process held a 1.5 GB file


def test_images_with_transparency_count_their_extra_decodes(tmp_path, image, monkeypatch):
    """An image with alpha is decoded twice and composited: its pixel limit is lower than an opaque one's."""
    path = tmp_path / "alpha.png"
    cv2.imwrite(str(path), np.dstack([image, np.full(image.shape[:2], 128, np.uint8)]))
    pixels = image.shape[0] * image.shape[1]
    opaque = tmp_path / "opaque.png"
    cv2.imwrite(str(opaque), image)
    monkeypatch.setattr(dupbench.detector.load, "decode_colour", never_decode)
    config = DetectorConfig(max_pixels=pixels * 2)  # room for the opaque image, not for the one with alpha
    item = load_features(str(path), config)
    assert isinstance(item, Skipped) and "with transparency" in item.reason, item
    monkeypatch.undo()
    assert isinstance(load_features(str(opaque), config), ImageFeatures)
