"""What the review page shows of each file, read now: a small thumbnail, format, size, date, digest.

The report carries each file's size, resolution and digest as the scan saw them; the page also needs a
thumbnail and the format and date, which only the file itself has. Reading it at review time also tells
whether it changed since the scan (its digest differs), which the page shows and `apply` refuses.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dupbench.detector.decode import DecodeError, cv2, decode_image, is_jpeg, jpeg_reduction, looks_truncated
from dupbench.detector.features import file_digest
from dupbench.detector.load import read_regular_file

MAX_PIXELS = 1 << 28  # the detector's default limit: a header claiming more is not decoded for a preview
JPEG_QUALITY = 80


@dataclass(frozen=True)
class FileView:
    """One file as the page lists it; `problem` says why it has no thumbnail or cannot be acted on."""

    path: str
    size: int | None
    mtime: str | None
    format: str | None
    width: int | None
    height: int | None
    digest: str | None
    thumb: str | None  # relative to the page
    problem: str | None = None


def probe(data: bytes) -> tuple[str | None, tuple[int, int] | None]:
    """Format name and stored (width, height) from the header alone (Pillow opens lazily), or Nones."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # the size is checked against MAX_PIXELS below, before any decode
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.format, im.size
    except Exception:  # an unknown or broken header: the page says there is no preview
        return None, None


def thumbnail_jpeg(data: bytes, size: tuple[int, int] | None, side: int) -> bytes:
    """A JPEG at most `side` pixels on its long side; a JPEG source is decoded at a reduced scale."""
    if cv2 is None:  # pragma: no cover - no OpenCV wheel on this interpreter
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            im = im.convert("RGB")
            im.thumbnail((side, side))
            out = io.BytesIO()
            im.save(out, "JPEG", quality=JPEG_QUALITY)
            return out.getvalue()
    reduction = jpeg_reduction(size, side) if is_jpeg(data) and not looks_truncated(data) else 1
    if reduction > 1:
        flag = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[reduction]
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
        if image is None:
            raise DecodeError("not a decodable image")
    else:
        image = decode_image(data, "opencv")
    height, width = image.shape[:2]
    scale = min(1.0, side / max(height, width))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise DecodeError("the thumbnail could not be encoded")
    return encoded.tobytes()


def view_file(path: str, thumb_path: Path, thumb_name: str, side: int) -> FileView:
    """Read `path` once: its stat, header, digest, and a thumbnail written to `thumb_path`. Never raises for bad files."""
    try:
        info = os.stat(path)
        data = read_regular_file(path)
    except (OSError, DecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return FileView(path, None, None, None, None, None, None, None, f"cannot read: {reason}")
    mtime = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(info.st_mtime))
    fmt, size = probe(data)
    digest = file_digest(data).hex()
    width, height = size if size else (None, None)
    base = FileView(path, len(data), mtime, fmt or (Path(path).suffix.lstrip(".").upper() or None), width, height, digest, None)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        return replace(base, problem=f"no preview: {size[0]}x{size[1]} is more than {MAX_PIXELS} pixels")
    try:
        jpeg = thumbnail_jpeg(data, size, side)
    except DecodeError as exc:
        return replace(base, problem=f"no preview: {exc}")
    except Exception as exc:  # a decoder bug costs one preview, not the page
        return replace(base, problem=f"no preview: {type(exc).__name__}: {exc}")
    thumb_path.write_bytes(jpeg)
    return replace(base, thumb=thumb_name)
