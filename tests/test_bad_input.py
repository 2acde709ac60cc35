"""Messy folders: every odd file is used or skipped with a reason, in every mode, and the good
duplicates are still found."""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image
from planted import photo

from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector.formats import FORMATS_EXTRA
from dupbench.detector.pipeline import find_duplicates


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy")
    image = photo("coffee", 120)
    rgb = Image.fromarray(np.ascontiguousarray(image[..., ::-1]))
    good = root / "good photo ü.png"
    cv2.imwrite(str(good), image)
    shutil.copy(good, root / "line\nbreak copy.png")
    (root / "wrong extension.jpg").write_bytes(cv2.imencode(".png", image)[1].tobytes())
    frames = [rgb, rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    frames[0].save(root / "animated.gif", save_all=True, append_images=frames[1:])
    frames[0].save(root / "pages.tiff", save_all=True, append_images=frames[1:])
    cv2.imwrite(str(root / "sixteen.png"), image.astype(np.uint16) * 257)
    cv2.imwrite(str(root / "alpha.png"), np.dstack([image, np.full(image.shape[:2], 255, np.uint8)]))  # opaque alpha
    cv2.imwrite(str(root / "see-through.png"), np.dstack([image, np.full(image.shape[:2], 120, np.uint8)]))
    cv2.imwrite(str(root / "gray.png"), cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    rgb.convert("CMYK").save(root / "cmyk.jpg", quality=95)
    (root / "empty.jpg").write_bytes(b"")
    (root / "random.png").write_bytes(os.urandom(2048))
    (root / "notes.tif").write_text("just text")
    (root / "fake.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + os.urandom(512))
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    (root / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    png = cv2.imencode(".png", image)[1].tobytes()
    (root / "truncated.png").write_bytes(png[: len(png) // 2])
    buffer = io.BytesIO()
    Image.new("L", (64, 64)).save(buffer, "PNG")
    bomb = bytearray(buffer.getvalue())
    bomb[16:24] = (200_000).to_bytes(4, "big") + (200_000).to_bytes(4, "big")  # IHDR width and height
    bomb[29:33] = zlib.crc32(bytes(bomb[12:29])).to_bytes(4, "big")  # a valid header claiming 40 gigapixels
    (root / "bomb.png").write_bytes(bytes(bomb))
    return root, str(good)


EXPECTED_SKIPS = {
    "empty.jpg": "empty file",
    "random.png": "not a decodable image",
    "notes.tif": "not a decodable image",
    # garbage after a HEIC header: with the 'formats' extra it is tried and fails, without it the reason names the extra
    "fake.heic": "not a decodable image" if importlib.util.find_spec("pillow_heif") else f"HEIF/HEIC image: no decoder for it is installed ({FORMATS_EXTRA})",
    "truncated.jpg": "truncated JPEG (no end-of-image marker)",
    "truncated.png": "truncated PNG (no IEND chunk)",
}


@pytest.mark.parametrize("mode", ["serial", "thread", "process"])
def test_every_file_is_used_or_skipped_with_a_reason(messy, mode):
    root, good = messy
    report = find_duplicates([str(root)], DetectorConfig(), ExecutionConfig(mode, 2, "forkserver"))
    reasons = {os.path.basename(s.path): s.reason for s in report.skipped}
    for name, reason in EXPECTED_SKIPS.items():
        assert reasons[name] == reason
    assert reasons["bomb.png"].startswith("image too large")
    used = report.counts["images"]
    assert used + len(reasons) == report.counts["files_found"]
    group = next(g for g in report.groups if good in g.paths)
    names = {os.path.basename(p) for p in group.paths}
    # the same picture under another name and extension, at 16 bits, with an opaque alpha channel, in CMYK,
    # as a GIF's first frame and a TIFF's first page: all decoded and all grouped with the photo. The
    # grayscale copy lost its colour and the see-through copy is lighter on any background: not the picture.
    assert names == {"good photo ü.png", "line\nbreak copy.png", "wrong extension.jpg", "sixteen.png", "alpha.png", "cmyk.jpg", "animated.gif", "pages.tiff"}
    matches = {os.path.basename(m.path): m.match for m in group.members}
    matches[os.path.basename(group.keeper)] = "keeper"
    for name in ("line\nbreak copy.png", "wrong extension.jpg", "sixteen.png", "alpha.png", "pages.tiff"):
        assert matches[name] in ("bytes", "pixels", "keeper")  # identical decoded pixels: exact duplicates


def test_a_file_replaced_after_the_scan_is_read_as_it_is_now(tmp_path):
    image = photo("rocket", 100)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    cv2.imwrite(str(tmp_path / "b.png"), image)
    from dupbench.detector import scan as scan_module

    real_scan = scan_module.scan

    def scan_then_change(*args, **kwargs):
        found = real_scan(*args, **kwargs)
        (tmp_path / "b.png").unlink()
        return found

    import dupbench.detector.pipeline

    original = dupbench.detector.pipeline.scan
    dupbench.detector.pipeline.scan = scan_then_change
    try:
        report = find_duplicates([str(tmp_path)], DetectorConfig(), ExecutionConfig("serial"))
    finally:
        dupbench.detector.pipeline.scan = original
    assert [(os.path.basename(s.path), s.reason.split(":")[0]) for s in report.skipped] == [("b.png", "unreadable")]
    assert report.groups == []
