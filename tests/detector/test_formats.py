"""HEIC/HEIF and AVIF (the 'formats' extra), camera RAW (the 'raw' extra) and the Pillow fallback.

The with-extra tests skip where the extra is not installed (a plain `.[test]` install; .ci/run installs the extras); the without-extra
tests run everywhere: they block the plugin's import, so they also run where it is installed.
"""

from __future__ import annotations

import importlib.util
import io
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from dng import make_dng
from PIL import Image, features
from planted import photo

import dupbench.detector.decode as decode
from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector.decode import decode_colour, decode_image
from dupbench.detector.formats import FORMATS_EXTRA, RAW_EXTRA, container_kind, is_camera_raw, pillow_reads
from dupbench.detector.pipeline import find_duplicates

HAS_HEIF = importlib.util.find_spec("pillow_heif") is not None
HAS_RAWPY = importlib.util.find_spec("rawpy") is not None
needs_heif = pytest.mark.skipif(not HAS_HEIF, reason=f"pillow-heif is not installed (the 'formats' extra: {FORMATS_EXTRA}); .ci/run installs it)")
needs_rawpy = pytest.mark.skipif(not HAS_RAWPY, reason=f"rawpy is not installed (the 'raw' extra: {RAW_EXTRA}); .ci/run installs it)")


@pytest.fixture
def picture() -> np.ndarray:
    return photo("astronaut", 160)


@pytest.fixture
def fresh_plugins():
    """pillow_reads remembers per process what reads each kind; forget it around a test that blocks a plugin."""
    pillow_reads.cache_clear()
    yield
    pillow_reads.cache_clear()


def run(folder: Path):
    return find_duplicates([str(folder)], DetectorConfig(), ExecutionConfig(mode="serial"))


def pil(bgr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(bgr[..., ::-1]))


def can_write_avif() -> bool:
    return features.check("avif") or importlib.util.find_spec("pillow_avif") is not None


@needs_heif
def test_heic_is_found_as_a_near_duplicate_of_its_png_original(tmp_path, picture, fresh_plugins):
    from pillow_heif import register_heif_opener

    register_heif_opener()
    cv2.imwrite(str(tmp_path / "original.png"), picture)
    pil(picture).save(tmp_path / "phone.heic", quality=90)
    report = run(tmp_path)
    assert report.skipped == []
    assert report.group_sets() == {frozenset({str(tmp_path / "original.png"), str(tmp_path / "phone.heic")})}
    assert pillow_reads("heif") == "pillow-heif"


@pytest.mark.skipif(
    not can_write_avif(), reason=f"neither Pillow's own AVIF support nor pillow-avif-plugin is installed ({FORMATS_EXTRA}); CI installs only .[test]"
)
def test_avif_is_found_as_a_near_duplicate_of_its_jpeg_original(tmp_path, picture, fresh_plugins):
    if not features.check("avif"):
        import pillow_avif  # noqa: F401
    cv2.imwrite(str(tmp_path / "original.jpg"), picture, [cv2.IMWRITE_JPEG_QUALITY, 92])
    pil(picture).save(tmp_path / "web.avif", quality=85)
    with Image.open(tmp_path / "web.avif") as im:  # what the scan sees: an AVIF, not a renamed JPEG
        assert im.format == "AVIF"
    report = run(tmp_path)
    assert report.skipped == []
    assert report.group_sets() == {frozenset({str(tmp_path / "original.jpg"), str(tmp_path / "web.avif")})}


@needs_heif
def test_heic_header_size_is_what_the_plugin_reports_before_decoding(tmp_path, picture, fresh_plugins):
    from pillow_heif import register_heif_opener

    from dupbench.detector.load import check_decoded_size

    register_heif_opener()
    buffer = io.BytesIO()
    pil(picture).save(buffer, "HEIF", quality=80)
    data = buffer.getvalue()
    assert check_decoded_size(data, DetectorConfig())[0] == (picture.shape[1], picture.shape[0])
    with pytest.raises(ValueError, match="image too large"):
        check_decoded_size(data, DetectorConfig(max_pixels=picture.shape[0] * picture.shape[1] - 1))


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def fake_container(major: bytes, width: int = 4000, height: int = 3000) -> bytes:
    """The start of a HEIF/AVIF file: its ftyp box and an image spatial extent, no decodable picture."""
    ftyp = box(b"ftyp", major + b"\0\0\0\0" + b"mif1" + major)
    ispe = box(b"ispe", b"\0\0\0\0" + struct.pack(">II", width, height))
    return ftyp + box(b"meta", b"\0\0\0\0" + box(b"iprp", box(b"ipco", ispe)))


def block(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)  # `import name` now raises ImportError


def test_heic_without_the_extra_is_skipped_with_a_reason_naming_it(tmp_path, monkeypatch, fresh_plugins):
    block(monkeypatch, "pillow_heif")
    (tmp_path / "phone.heic").write_bytes(fake_container(b"heic"))
    report = run(tmp_path)
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [("phone.heic", f"HEIF/HEIC image: no decoder for it is installed ({FORMATS_EXTRA})")]


@needs_heif
def test_a_real_heic_is_skipped_when_the_plugin_is_blocked_even_after_it_registered(tmp_path, picture, monkeypatch, fresh_plugins):
    from pillow_heif import register_heif_opener

    register_heif_opener()
    pil(picture).save(tmp_path / "phone.heic", quality=80)
    pillow_reads.cache_clear()
    block(monkeypatch, "pillow_heif")
    assert [s.reason for s in run(tmp_path).skipped] == [f"HEIF/HEIC image: no decoder for it is installed ({FORMATS_EXTRA})"]


def test_avif_without_any_avif_decoder_is_skipped_with_a_reason_naming_the_extra(tmp_path, monkeypatch, fresh_plugins):
    monkeypatch.setattr(features, "check", lambda name: False if name == "avif" else True)
    block(monkeypatch, "pillow_avif")
    (tmp_path / "web.avif").write_bytes(fake_container(b"avif"))
    assert [s.reason for s in run(tmp_path).skipped] == [f"AVIF image: no decoder for it is installed ({FORMATS_EXTRA})"]


def test_a_huge_heic_is_refused_from_its_ispe_box_without_a_plugin(monkeypatch, fresh_plugins):
    from dupbench.detector.load import check_decoded_size

    block(monkeypatch, "pillow_heif")
    with pytest.raises(ValueError, match="image too large: 40000x30000"):
        check_decoded_size(fake_container(b"heic", 40000, 30000), DetectorConfig())


@pytest.mark.parametrize(
    "brands, kind", [(b"heic\0\0\0\0mif1heic", "heif"), (b"mif1\0\0\0\0mif1", "heif"), (b"mif1\0\0\0\0miafavif", "avif"), (b"isom\0\0\0\0isommp41", None)]
)
def test_container_kind_reads_the_ftyp_brands(brands, kind):
    """An AVIF lists the generic HEIF brand mif1 too; an MP4 video is an ISO-BMFF file but no image."""
    assert container_kind(box(b"ftyp", brands) + b"\0" * 32) == kind


def gif_opencv_rejects(picture: np.ndarray) -> bytes:
    """A valid GIF whose background colour index lies past its global palette: viewers and Pillow show
    it, OpenCV refuses it ("bgColor should be < globalColorTableSize")."""
    buffer = io.BytesIO()
    pil(picture).quantize(16).save(buffer, "GIF")
    data = bytearray(buffer.getvalue())
    data[11] = 255  # the logical screen descriptor's background colour index; the palette has 16 entries
    return bytes(data)


def test_a_gif_opencv_rejects_is_decoded_by_pillow_and_matched(tmp_path, picture):
    data = gif_opencv_rejects(picture)
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is None  # the case this covers
    with Image.open(io.BytesIO(data)) as im:
        expected = np.asarray(im.convert("RGB"))[..., ::-1]
    assert np.array_equal(decode_colour(data, "opencv")[0], expected)
    assert np.array_equal(decode_image(data, "opencv"), expected)
    (tmp_path / "sticker.gif").write_bytes(data)
    cv2.imwrite(str(tmp_path / "sticker.png"), picture)
    report = run(tmp_path)
    assert report.skipped == []
    assert report.group_sets() == {frozenset({str(tmp_path / "sticker.gif"), str(tmp_path / "sticker.png")})}


def test_the_pillow_fallback_does_not_open_formats_dupbench_does_not_scan():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"  # Pillow would hand this to Ghostscript
    with pytest.raises(ValueError, match="not a decodable image"):
        decode_colour(eps, "opencv")


@pytest.mark.parametrize("mode", ["serial", "process"])
def test_a_run_over_files_opencv_rejects_prints_no_opencv_log_line(tmp_path, picture, mode):
    (tmp_path / "sticker.gif").write_bytes(gif_opencv_rejects(picture))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64 + b"IEND")
    cv2.imwrite(str(tmp_path / "fine.png"), picture)
    done = subprocess.run(
        [sys.executable, "-m", "dupbench", "run", str(tmp_path), "--mode", mode, "--workers", "2", "--no-cache"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "broken.png" in done.stdout  # the skip is reported, in dupbench's words
    opencv_lines = [line for line in done.stderr.splitlines() if line.lstrip().startswith(("[ WARN", "[ERROR", "[ INFO")) or "OpenCV(" in line]
    assert opencv_lines == []


# Camera RAW


def test_camera_raw_is_recognised_by_its_bytes(picture):
    assert is_camera_raw(make_dng(picture))
    assert is_camera_raw(b"II*\x00\x10\x00\x00\x00CR\x02\x00" + b"\0" * 64)  # a CR2 header
    assert not is_camera_raw(cv2.imencode(".tiff", picture)[1].tobytes())
    assert not is_camera_raw(b"II*\x00\xff\xff\xff\x7f")  # an IFD offset past the end


def test_raw_without_the_extra_is_skipped_with_a_reason_naming_it(tmp_path, picture, monkeypatch):
    block(monkeypatch, "rawpy")
    (tmp_path / "IMG_0001.dng").write_bytes(make_dng(picture))
    assert [s.reason for s in run(tmp_path).skipped] == [f"camera RAW file: no decoder for it is installed ({RAW_EXTRA})"]


@needs_rawpy
def test_raw_with_a_preview_uses_the_preview_and_matches_the_jpeg(tmp_path, picture, monkeypatch):
    jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    data = make_dng(cv2.flip(picture, 1), jpeg, (picture.shape[1], picture.shape[0]))  # sensor data mirrored: only the preview matches
    monkeypatch.setattr(decode, "raw_develop", lambda data: pytest.fail("developed although it has a preview"))
    decoded = decode_colour(data, "opencv", min_side=picture.shape[0])[0]
    assert np.abs(decoded.astype(int) - cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)).max() <= 1
    (tmp_path / "IMG_0001.dng").write_bytes(data)
    (tmp_path / "IMG_0001.jpg").write_bytes(jpeg)
    report = run(tmp_path)
    assert report.group_sets() == {frozenset({str(tmp_path / "IMG_0001.dng"), str(tmp_path / "IMG_0001.jpg")})}
    sizes = {Path(path).suffix: (info.width, info.height) for path, info in report.files.items()}
    assert sizes[".dng"] == (2 * picture.shape[1], 2 * picture.shape[0])  # the sensor's size, not the preview's


@needs_rawpy
def test_raw_without_a_preview_is_developed_at_half_size_and_matches_the_png(tmp_path, picture):
    data = make_dng(picture)
    decoded = decode_colour(data, "opencv", min_side=64)[0]
    assert decoded.shape == picture.shape  # half of the 2x mosaic
    assert np.abs(decoded.astype(int) - picture).mean() < 12
    (tmp_path / "IMG_0002.dng").write_bytes(data)
    cv2.imwrite(str(tmp_path / "IMG_0002.png"), picture)
    assert run(tmp_path).group_sets() == {frozenset({str(tmp_path / "IMG_0002.dng"), str(tmp_path / "IMG_0002.png")})}


@needs_rawpy
def test_a_file_libraw_cannot_parse_is_skipped_with_its_reason(tmp_path, picture):
    data = bytearray(make_dng(picture))
    data[len(data) // 2 :] = b""  # cut off inside the sensor data
    (tmp_path / "cut.dng").write_bytes(bytes(data))
    (reason,) = [s.reason for s in run(tmp_path).skipped]
    assert reason.startswith("camera RAW file LibRaw cannot read")
