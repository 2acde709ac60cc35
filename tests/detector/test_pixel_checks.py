"""Exact matches by pixels without a second decode of every candidate: cross-format and metadata-only
copies stay exact in every mode, lossy re-encodes never are, and only files that can be identical are
decoded again."""

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from planted import photo

from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector.features import (
    ImageFeatures,
    jpeg_coded_digest,
    lossy_coding,
    may_hold_same_pixels,
    pixel_digest,
    pixel_digest_with_alpha,
)
from dupbench.detector.load import load_features, pixel_digest_of
from dupbench.detector.pipeline import find_duplicates

SIZE = (480, 320)  # large enough that the load decodes the JPEGs at a reduced scale


def big(name: str) -> np.ndarray:
    return cv2.resize(photo(name, 160), SIZE, interpolation=cv2.INTER_CUBIC)


def with_jpeg_segment(data: bytes, marker: int, payload: bytes) -> bytes:
    """The JPEG with one more segment right after SOI (as a tagging tool writes it)."""
    return data[:2] + bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def with_png_text(data: bytes, text: bytes) -> bytes:
    body = b"tEXt" + b"Comment\x00" + text
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    end_of_header = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4
    return data[:end_of_header] + chunk + data[end_of_header:]


def exif(orientation: int) -> bytes:
    tags = Image.Exif()
    tags[0x0112] = orientation
    return tags.tobytes()


def encoded(image: np.ndarray, ext: str, *params: int) -> bytes:
    ok, buffer = cv2.imencode(ext, image, list(params))
    assert ok
    return buffer.tobytes()


# name -> whether it is an exact copy of its group's first file (False: a lossy re-encode, never exact)
COPIES = {
    "a.jpg": True,
    "a decoded.png": True,
    "a decoded.bmp": True,
    "a decoded.tif": True,
    "a comment.jpg": True,
    "a exif.jpg": True,
    "a q60.jpg": False,
    "b.png": True,
    "b.bmp": True,
    "b.tif": True,
    "b text.png": True,
    "b lossless.webp": True,
    "b q95.jpg": False,
    "b lossy.webp": False,
    "c.png": True,
    "c.tif": True,
    "d.jpg": True,
    "d optimized.jpg": True,
    "d progressive.jpg": True,
    "e turned.jpg": True,
    "e turned decoded.png": True,
    "e turned comment.jpg": True,
}


def pillow_jpeg(image: np.ndarray, **options: bool) -> bytes:
    """Quality 90 by Pillow: the same coefficients whatever the Huffman tables or scan order."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image[..., ::-1])).save(out, "JPEG", quality=90, **options)
    return out.getvalue()


def write_copies(root: Path) -> None:
    a = encoded(big("chelsea"), ".jpg", cv2.IMWRITE_JPEG_QUALITY, 90)
    decoded = cv2.imdecode(np.frombuffer(a, np.uint8), cv2.IMREAD_COLOR)
    b, c = big("coffee"), cv2.resize(photo("rocket", 160), SIZE)
    alpha = np.tile(np.linspace(0, 255, SIZE[0]).astype(np.uint8), (SIZE[1], 1))
    turned = with_jpeg_segment(encoded(big("astronaut"), ".jpg", cv2.IMWRITE_JPEG_QUALITY, 90), 0xE1, exif(6))  # shown turned 90 degrees
    files = {
        "a.jpg": a,
        "a decoded.png": encoded(decoded, ".png"),
        "a decoded.bmp": encoded(decoded, ".bmp"),
        "a decoded.tif": encoded(decoded, ".tif"),
        "a comment.jpg": with_jpeg_segment(a, 0xFE, b"tagged copy"),
        "a exif.jpg": with_jpeg_segment(a, 0xE1, exif(1)),
        "a q60.jpg": encoded(decoded, ".jpg", cv2.IMWRITE_JPEG_QUALITY, 60),
        "b.png": encoded(b, ".png"),
        "b.bmp": encoded(b, ".bmp"),
        "b.tif": encoded(b, ".tif"),
        "b text.png": with_png_text(encoded(b, ".png"), b"tagged copy"),
        "b lossless.webp": encoded(b, ".webp", cv2.IMWRITE_WEBP_QUALITY, 101),
        "b q95.jpg": encoded(b, ".jpg", cv2.IMWRITE_JPEG_QUALITY, 95),
        "b lossy.webp": encoded(b, ".webp", cv2.IMWRITE_WEBP_QUALITY, 90),
        "c.png": encoded(np.dstack([c, alpha]), ".png"),
        "c.tif": encoded(np.dstack([c, alpha]), ".tif"),
        "d.jpg": pillow_jpeg(big("coins")),
        "d optimized.jpg": pillow_jpeg(big("coins"), optimize=True),
        "d progressive.jpg": pillow_jpeg(big("coins"), progressive=True),
        "e turned.jpg": turned,
        "e turned decoded.png": encoded(cv2.imdecode(np.frombuffer(turned, np.uint8), cv2.IMREAD_COLOR), ".png"),
        "e turned comment.jpg": with_jpeg_segment(turned, 0xFE, b"tagged copy"),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("copies")
    write_copies(root)
    return root


def matches(report) -> dict[str, tuple[str, str]]:
    """{file name: (its group's keeper name, how it matched)}, the keeper matching itself as "keeper"."""
    out = {}
    for group in report.groups:
        keeper = Path(group.keeper).name
        out[keeper] = (keeper, "keeper")
        out.update((Path(m.path).name, (keeper, m.match)) for m in group.members)
    return out


def test_cross_format_and_metadata_copies_are_exact_and_lossy_re_encodes_are_not(copies, mode):
    report = find_duplicates([str(copies)], DetectorConfig(), ExecutionConfig(mode=mode, workers=2, start_method="fork"))
    found = matches(report)
    assert set(found) == set(COPIES), "every file is in a group"
    for letter in "abcde":
        names = [n for n in COPIES if n.startswith(letter)]
        exact = [n for n in names if COPIES[n]]
        assert len({found[n][0] for n in names}) == 1, f"group {letter} split: {[found[n] for n in names]}"
        keeper = found[names[0]][0]
        assert COPIES[keeper], "a lossy re-encode is never the keeper here"
        for name in exact:
            assert found[name][1] in ("keeper", "pixels", "bytes"), f"{name} matched as {found[name][1]}"
        for name in set(names) - set(exact):
            assert found[name][1] == "ssim", f"the lossy {name} matched as {found[name][1]}"


def test_only_reduced_jpegs_that_can_be_identical_to_another_file_are_decoded_again(copies):
    report = find_duplicates([str(copies)], DetectorConfig(), ExecutionConfig(mode="serial"))
    # "a.jpg" and its metadata copies are one coded picture, decoded once against the PNG/BMP/TIFF copies;
    # "a q60.jpg" and "b q95.jpg" are decoded against the lossless ones; the three "d" JPEGs (one table, the
    # same reduced decodes, other coded data) against each other; "e turned.jpg" and its comment copy once
    # against the PNG of its turned decode; every other file was digested at load.
    assert report.counts["pixel_checks"] == 7


def test_jpeg_copies_that_differ_in_metadata_only_are_exact_without_any_decode(tmp_path, mode):
    a = encoded(big("astronaut"), ".jpg", cv2.IMWRITE_JPEG_QUALITY, 85)
    (tmp_path / "a.jpg").write_bytes(a)
    (tmp_path / "a comment.jpg").write_bytes(with_jpeg_segment(a, 0xFE, b"tagged"))
    (tmp_path / "a exif.jpg").write_bytes(with_jpeg_segment(a, 0xE1, exif(1)))
    decoded = cv2.imdecode(np.frombuffer(a, np.uint8), cv2.IMREAD_COLOR)
    (tmp_path / "a q50.jpg").write_bytes(encoded(decoded, ".jpg", cv2.IMWRITE_JPEG_QUALITY, 50))
    report = find_duplicates([str(tmp_path)], DetectorConfig(), ExecutionConfig(mode=mode, workers=2, start_method="fork"))
    found = matches(report)
    assert sorted(m for _, m in found.values()) == ["keeper", "pixels", "pixels", "ssim"]
    assert found["a q50.jpg"][1] == "ssim"
    assert report.counts["pixel_checks"] == 0, "other quantisation tables: a q50 copy cannot hold the same pixels"


def test_jpegs_with_one_table_but_other_reduced_decodes_are_not_decoded_again_nor_exact(tmp_path):
    image = big("astronaut")
    (tmp_path / "a.jpg").write_bytes(encoded(image, ".jpg", cv2.IMWRITE_JPEG_QUALITY, 90))
    (tmp_path / "a brighter.jpg").write_bytes(encoded(cv2.add(image, 3), ".jpg", cv2.IMWRITE_JPEG_QUALITY, 90))
    report = find_duplicates([str(tmp_path)], DetectorConfig(), ExecutionConfig(mode="serial"))
    assert [m.match for g in report.groups for m in g.members] == ["ssim"]
    assert report.counts["pixel_checks"] == 0


def test_the_load_digest_of_a_full_decode_equals_the_pixel_checks_digest(copies):
    for name in ("a decoded.png", "b lossless.webp", "b lossy.webp", "c.tif"):
        item = load_features(str(copies / name), DetectorConfig())
        assert isinstance(item, ImageFeatures)
        assert item.pixel_digest is not None and item.pixel_digest == pixel_digest_of(item.path, item.file_digest, "opencv"), name
    jpeg = load_features(str(copies / "a.jpg"), DetectorConfig())
    assert isinstance(jpeg, ImageFeatures) and jpeg.pixel_digest is None, "a reduced decode gives no pixel digest"


def test_the_alpha_digest_taken_by_rows_equals_the_whole_stack():
    rng = np.random.default_rng(1)
    image, alpha = rng.integers(0, 256, (600, 7, 3), np.uint8), rng.integers(0, 256, (600, 7), np.uint8)
    assert pixel_digest_with_alpha(image, alpha) == pixel_digest(np.dstack([image, alpha]))
    assert pixel_digest_with_alpha(image, alpha) != pixel_digest_with_alpha(image, alpha[::-1])


def test_coded_digest_ignores_metadata_but_not_orientation_or_image_data(copies):
    a = (copies / "a.jpg").read_bytes()
    assert jpeg_coded_digest(a) is not None
    assert jpeg_coded_digest(a) == jpeg_coded_digest(with_jpeg_segment(a, 0xFE, b"x")) == jpeg_coded_digest(with_jpeg_segment(a, 0xE1, exif(1)))
    assert jpeg_coded_digest(with_jpeg_segment(a, 0xE1, exif(6))) != jpeg_coded_digest(a), "a turn changes the decoded pixels"
    assert jpeg_coded_digest(with_jpeg_segment(a, 0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01")) != jpeg_coded_digest(a), "APP14 can change colours"
    flipped = a[:-100] + bytes([a[-100] ^ 1]) + a[-99:]
    assert jpeg_coded_digest(flipped) != jpeg_coded_digest(a)
    xmp_turn = with_jpeg_segment(a, 0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x tiff:Orientation='6'/>")
    assert jpeg_coded_digest(xmp_turn) is None, "an XMP orientation is read by Pillow: no shortcut"


def test_lossy_coding_tells_quantisation_tables_and_lossy_webp_apart(copies):
    image = big("chelsea")
    q90, q60 = (encoded(image, ".jpg", cv2.IMWRITE_JPEG_QUALITY, q) for q in (90, 60))
    assert lossy_coding(q90) == lossy_coding(encoded(image[::-1], ".jpg", cv2.IMWRITE_JPEG_QUALITY, 90)) != lossy_coding(q60)
    assert lossy_coding((copies / "b lossy.webp").read_bytes()) == b"webp-vp8"
    assert lossy_coding((copies / "b lossless.webp").read_bytes()) is None
    assert lossy_coding((copies / "b.png").read_bytes()) is None


def test_which_pairs_may_hold_the_same_pixels(copies):
    item = {name: load_features(str(copies / name), DetectorConfig()) for name in COPIES}
    assert may_hold_same_pixels(item["a.jpg"], item["a decoded.png"])
    assert may_hold_same_pixels(item["a.jpg"], item["a comment.jpg"])
    assert may_hold_same_pixels(item["b q95.jpg"], item["b.png"]), "a PNG may be the saved decode of a JPEG"
    assert not may_hold_same_pixels(item["a.jpg"], item["a q60.jpg"]), "other quantisation tables"
    assert not may_hold_same_pixels(item["b q95.jpg"], item["b lossy.webp"]), "two lossy codecs"
    assert not may_hold_same_pixels(item["c.png"], item["b.png"]), "transparency on one side only"
    assert may_hold_same_pixels(item["d.jpg"], item["d progressive.jpg"]), "one table, the same coefficients"


@pytest.mark.parametrize("cut", [3, 20, 200, 2000])
def test_header_parsers_never_raise_on_damaged_files(copies, cut):
    rng = np.random.default_rng(cut)
    for name in ("a.jpg", "a exif.jpg", "b lossy.webp", "b.png"):
        data = bytearray((copies / name).read_bytes()[:cut])
        for _ in range(20):
            damaged = bytearray(data)
            if damaged:
                damaged[int(rng.integers(len(damaged)))] = int(rng.integers(256))
            jpeg_coded_digest(bytes(damaged))
            lossy_coding(bytes(damaged))


def test_a_second_run_from_the_cache_keeps_what_the_pixel_checks_need(copies, tmp_path):
    from dupbench.detector.cache import FeatureCache
    from dupbench.detector.pipeline import cache_settings_key

    key = cache_settings_key(DetectorConfig())
    reports = []
    for _ in range(2):
        with FeatureCache(tmp_path / "c.sqlite", key) as cache:
            reports.append(find_duplicates([str(copies)], DetectorConfig(), ExecutionConfig(mode="serial"), cache=cache))
    first, second = reports
    assert second.counts["cache_hits"] == len(COPIES)
    assert second.groups == first.groups
    assert second.counts["pixel_checks"] == first.counts["pixel_checks"] == 7, "load digests, codings and coded digests come back from the cache"
