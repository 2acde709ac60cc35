"""Planted duplicates and hard negatives, each a small pure function with a label.

Every function takes the pixels (BGR uint8, as OpenCV decodes them) or the stored original, a seeded
``numpy.random.Generator`` and a ``strength`` in [0, 1], and returns new pixels or encoded bytes. Nothing
reads the clock or global state, so a seed gives the same bytes on every run (for the same library
versions). ``strength`` 0 is the mild end of a transformation's range and 1 the strongest edit that still
counts as a duplicate; for hard negatives, 1 is the *most similar* edit that still counts as distinct.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

Params = dict[str, Any]
EXIF_ORIENTATION_TAG = 0x0112
# Rotation that turns the displayed picture into the stored one for each EXIF orientation.
_STORE_ROTATION = {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_COUNTERCLOCKWISE, 8: cv2.ROTATE_90_CLOCKWISE}
_CAPTIONS = ("IMG 2024-05-17", "@holiday.pics", "(c) dupbench", "best day ever", "SUMMER 24", "shared via app")


@dataclass(frozen=True)
class StoredImage:
    """An image as written to disk, with the pixels a decoder sees when it reads those bytes back."""

    data: bytes
    ext: str
    pixels: np.ndarray
    quality: int | None = None


@dataclass(frozen=True)
class Encoded:
    data: bytes
    ext: str
    params: Params = field(default_factory=dict)


def lerp(low: float, high: float, t: float) -> float:
    return low + (high - low) * t


def encode(pixels: np.ndarray, ext: str, quality: int | None = None) -> bytes:
    """Encode BGR pixels with OpenCV; every option is explicit so the bytes never depend on defaults."""
    options: list[int] = []
    if ext == ".jpg":
        options = [cv2.IMWRITE_JPEG_QUALITY, int(quality or 90)]
    elif ext == ".webp":
        options = [cv2.IMWRITE_WEBP_QUALITY, int(quality or 80)]
    elif ext == ".png":
        options = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    elif ext not in (".bmp", ".tif"):
        raise ValueError(f"unsupported extension {ext!r}")
    ok, buffer = cv2.imencode(ext, pixels, options)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {ext}")
    return buffer.tobytes()


def decode(data: bytes) -> np.ndarray:
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise RuntimeError("OpenCV could not decode an image it wrote")
    return pixels


def resize_to(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    shrinking = width * height < pixels.shape[0] * pixels.shape[1]
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def add_noise(pixels: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    noise = rng.normal(0.0, sigma, size=pixels.shape).astype(np.float32)
    return np.clip(pixels.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def tone_curve(pixels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    return cv2.LUT(pixels, np.clip(np.rint(lut), 0, 255).astype(np.uint8))


def random_sign(rng: np.random.Generator) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


# --- planted duplicates: each returns the encoded copy ------------------------------------------


def byte_copy(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    """The same bytes beside the original ("IMG_0001 (1).jpg")."""
    return Encoded(original.data, original.ext)


def renamed_copy(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    """The same bytes under another name in another folder (placement is the generator's job)."""
    return Encoded(original.data, original.ext)


def _lossless(ext: str) -> Callable[[StoredImage, np.random.Generator, float], Encoded]:
    def reencode(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
        return Encoded(encode(original.pixels, ext), ext, {"format": ext[1:]})

    reencode.__doc__ = f"The decoded pixels saved losslessly as {ext}: equal pixels, different bytes."
    return reencode


def _jpeg(quality: int) -> Callable[[StoredImage, np.random.Generator, float], Encoded]:
    def recompress(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
        return Encoded(encode(original.pixels, ".jpg", quality), ".jpg", {"quality": quality})

    recompress.__doc__ = f"JPEG re-compression at quality {quality}."
    return recompress


def downscale(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    factor = lerp(0.6, 0.25, strength)
    return _rescaled(original, factor)


def upscale(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    factor = lerp(1.2, 1.6, strength)
    return _rescaled(original, factor)


def _rescaled(original: StoredImage, factor: float) -> Encoded:
    h, w = original.pixels.shape[:2]
    width, height = max(16, round(w * factor)), max(16, round(h * factor))
    pixels = resize_to(original.pixels, width, height)
    return Encoded(encode(pixels, original.ext, original.quality), original.ext, {"factor": round(factor, 4)})


def small_crop(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    """Trim up to 5% from each side (at least 1% from one side)."""
    most = lerp(0.02, 0.05, strength)
    sides = rng.uniform(0.0, most, size=4)
    sides[rng.integers(4)] = max(sides.max(), 0.01)
    h, w = original.pixels.shape[:2]
    top, bottom = int(sides[0] * h), h - int(sides[1] * h)
    left, right = int(sides[2] * w), w - int(sides[3] * w)
    pixels = original.pixels[top:bottom, left:right]
    params = {"top": round(float(sides[0]), 4), "bottom": round(float(sides[1]), 4), "left": round(float(sides[2]), 4), "right": round(float(sides[3]), 4)}
    return Encoded(encode(pixels, original.ext, original.quality), original.ext, params)


def brightness(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    delta = random_sign(rng) * lerp(8.0, 25.0, strength)
    pixels = tone_curve(original.pixels, np.arange(256, dtype=np.float64) + delta)
    return Encoded(encode(pixels, original.ext, original.quality), original.ext, {"delta": round(delta, 3)})


def contrast(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    factor = 1.0 + random_sign(rng) * lerp(0.08, 0.2, strength)
    pixels = tone_curve(original.pixels, 128.0 + (np.arange(256, dtype=np.float64) - 128.0) * factor)
    return Encoded(encode(pixels, original.ext, original.quality), original.ext, {"factor": round(factor, 4)})


def gamma(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    value = lerp(1.1, 1.4, strength) ** random_sign(rng)
    pixels = tone_curve(original.pixels, 255.0 * (np.arange(256, dtype=np.float64) / 255.0) ** value)
    return Encoded(encode(pixels, original.ext, original.quality), original.ext, {"gamma": round(value, 4)})


def gaussian_noise(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    sigma = lerp(3.0, 10.0, strength)
    pixels = add_noise(original.pixels, rng, sigma)
    return Encoded(encode(pixels, original.ext, original.quality), original.ext, {"sigma": round(sigma, 3)})


def blur(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    """Gaussian blur whose sigma scales with the image, so 'mild' means the same at any resolution."""
    long_side = max(original.pixels.shape[:2])
    sigma = lerp(0.0015, 0.004, strength) * long_side
    pixels = cv2.GaussianBlur(original.pixels, (0, 0), sigmaX=max(sigma, 0.5))
    return Encoded(encode(pixels, original.ext, original.quality), original.ext, {"sigma_px": round(sigma, 3)})


def rotate(pixels: np.ndarray, degrees: float) -> np.ndarray:
    h, w = pixels.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    return cv2.warpAffine(pixels, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def small_rotation(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    degrees = random_sign(rng) * lerp(1.0, 3.0, strength)
    pixels = rotate(original.pixels, degrees)
    return Encoded(encode(pixels, original.ext, original.quality), original.ext, {"degrees": round(degrees, 3)})


def draw_caption(pixels: np.ndarray, text: str, box: tuple[int, int, int, int], colour: tuple[int, int, int]) -> None:
    """Fill ``box`` (x, y, w, h) with a colour and write ``text`` in it, fitted to the box, in place."""
    x, y, w, h = box
    cv2.rectangle(pixels, (x, y), (x + w - 1, y + h - 1), colour, thickness=-1)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)
    scale = min(0.9 * w / tw, 0.7 * h / th)
    thickness = max(1, round(scale * 2))
    ink = (255, 255, 255) if sum(colour) < 384 else (0, 0, 0)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    origin = (x + (w - tw) // 2, y + (h + th) // 2)
    cv2.putText(pixels, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, ink, thickness, cv2.LINE_AA)


def text_overlay(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    """A caption box in a corner covering at most ~5% of the picture."""
    pixels = original.pixels.copy()
    h, w = pixels.shape[:2]
    box_w = max(8, round(w * lerp(0.15, 0.3, strength)))
    box_h = max(8, min(round(box_w * 0.2), round(0.05 * w * h / box_w)))
    x = round(0.02 * w) if rng.random() < 0.5 else w - box_w - round(0.02 * w)
    y = round(0.02 * h) if rng.random() < 0.5 else h - box_h - round(0.02 * h)
    text = _CAPTIONS[int(rng.integers(len(_CAPTIONS)))]
    red, green, blue = (int(c) for c in rng.integers(0, 256, size=3))
    colour = (red, green, blue)
    draw_caption(pixels, text, (x, y, box_w, box_h), colour)
    area = box_w * box_h / (w * h)
    return Encoded(encode(pixels, original.ext, original.quality), original.ext, {"text": text, "area": round(area, 4)})


def logo_overlay(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    """A round badge with a letter in a corner (a watermark), covering at most ~3% of the picture."""
    pixels = original.pixels.copy()
    h, w = pixels.shape[:2]
    radius = max(4, round(min(w, h) * lerp(0.04, 0.09, strength)))
    margin = radius + round(0.02 * min(w, h))
    cx = margin if rng.random() < 0.5 else w - margin
    cy = margin if rng.random() < 0.5 else h - margin
    red, green, blue = (int(c) for c in rng.integers(0, 256, size=3))
    colour = (red, green, blue)
    cv2.circle(pixels, (cx, cy), radius, colour, thickness=-1, lineType=cv2.LINE_AA)
    cv2.circle(pixels, (cx, cy), radius, (255, 255, 255), thickness=max(1, radius // 8), lineType=cv2.LINE_AA)
    letter = "ABDKMPRSWZ"[int(rng.integers(10))]
    scale = radius / 22.0
    (tw, th), _ = cv2.getTextSize(letter, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, radius // 8))
    cv2.putText(pixels, letter, (cx - tw // 2, cy + th // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, radius // 8), cv2.LINE_AA)
    area = np.pi * radius * radius / (w * h)
    return Encoded(encode(pixels, original.ext, original.quality), original.ext, {"letter": letter, "area": round(area, 4)})


def exif_orientation(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    """Rotated pixels in a JPEG whose EXIF Orientation tag says how to turn them back (as phones save).

    A decoder that honours the tag (OpenCV's IMREAD_COLOR does) shows the original's orientation.
    """
    orientation = (3, 6, 8)[int(rng.integers(3))]
    stored = cv2.rotate(original.pixels, _STORE_ROTATION[orientation])
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = orientation
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(stored[:, :, ::-1])).save(buffer, "JPEG", quality=92, exif=exif.tobytes())
    return Encoded(buffer.getvalue(), ".jpg", {"orientation": orientation})


def format_jpeg(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    return Encoded(encode(original.pixels, ".jpg", 92), ".jpg", {"quality": 92})


def format_webp(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    quality = round(lerp(90, 70, strength))
    return Encoded(encode(original.pixels, ".webp", quality), ".webp", {"quality": quality})


CopyTransform = Callable[[StoredImage, np.random.Generator, float], Encoded]

COPY_TRANSFORMS: dict[str, CopyTransform] = {
    "byte_copy": byte_copy,
    "renamed_copy": renamed_copy,
    "reencode_png": _lossless(".png"),
    "reencode_bmp": _lossless(".bmp"),
    "reencode_tiff": _lossless(".tif"),
    "jpeg_q85": _jpeg(85),
    "jpeg_q60": _jpeg(60),
    "jpeg_q40": _jpeg(40),
    "downscale": downscale,
    "upscale": upscale,
    "small_crop": small_crop,
    "brightness": brightness,
    "contrast": contrast,
    "gamma": gamma,
    "gaussian_noise": gaussian_noise,
    "blur": blur,
    "small_rotation": small_rotation,
    "text_overlay": text_overlay,
    "logo_overlay": logo_overlay,
    "exif_orientation": exif_orientation,
    "format_jpeg": format_jpeg,
    "format_webp": format_webp,
}


# --- hard negatives edited from an original: labelled distinct -----------------------------------


def heavy_crop(original: StoredImage, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Zoom into 50-70% of each side and scale back up: a different framing a user keeps separately."""
    keep = lerp(0.5, 0.7, strength)
    h, w = original.pixels.shape[:2]
    ch, cw = round(h * keep), round(w * keep)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return resize_to(original.pixels[y : y + ch, x : x + cw], w, h)


def heavy_overlay(original: StoredImage, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A meme-style caption bar covering 25-45% of the picture."""
    pixels = original.pixels.copy()
    h, w = pixels.shape[:2]
    bar_h = round(h * lerp(0.45, 0.25, strength))
    y = 0 if rng.random() < 0.5 else h - bar_h
    red, green, blue = (int(c) for c in rng.integers(0, 256, size=3))
    colour = (red, green, blue)
    draw_caption(pixels, _CAPTIONS[int(rng.integers(len(_CAPTIONS)))], (0, y, w, bar_h), colour)
    return pixels


EDIT_NEGATIVES: dict[str, Callable[[StoredImage, np.random.Generator, float], np.ndarray]] = {
    "heavy_crop": heavy_crop,
    "heavy_overlay": heavy_overlay,
}


# --- low-information look-alikes: mostly one flat colour with a small, different subject ---------


def night_sky(rng: np.random.Generator, width: int, height: int, strength: float) -> np.ndarray:
    """Dark sky, a scatter of stars and sometimes a small bright moon or galaxy."""
    base = rng.uniform(4, 22)
    tint = np.array([base * 1.4, base * 1.1, base], dtype=np.float32)
    ramp = np.linspace(1.0, rng.uniform(0.4, 1.0), height, dtype=np.float32)[:, None, None]
    pixels = np.clip(ramp * tint, 0, 255).astype(np.uint8).repeat(width, axis=1)
    scale = max(width, height) / 1000.0
    for _ in range(int(rng.integers(30, 160))):
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        level = int(rng.integers(110, 256))
        cv2.circle(pixels, centre, int(rng.integers(0, 3) * scale), (level, level, level), -1, cv2.LINE_AA)
    if rng.random() < 0.6:
        radius = max(3, round(min(width, height) * rng.uniform(0.03, 0.08)))
        centre = (int(rng.integers(radius, width - radius)), int(rng.integers(radius, height - radius)))
        level = int(rng.integers(170, 240))
        axes = (radius, max(2, round(radius * rng.uniform(0.4, 1.0))))
        cv2.ellipse(pixels, centre, axes, float(rng.uniform(0, 180)), 0, 360, (level, level, level), -1, cv2.LINE_AA)
    return pixels


def product_on_white(rng: np.random.Generator, width: int, height: int, strength: float) -> np.ndarray:
    """A small coloured object with a soft shadow on a white studio background."""
    pixels = np.full((height, width, 3), int(rng.integers(238, 256)), dtype=np.uint8)
    short = min(width, height)
    size = short * rng.uniform(0.12, 0.3)
    cx, cy = width * rng.uniform(0.3, 0.7), height * rng.uniform(0.3, 0.7)
    shadow = np.zeros((height, width), dtype=np.float32)
    cv2.ellipse(shadow, (round(cx), round(cy + size * 0.55)), (round(size * 0.6), max(2, round(size * 0.12))), 0, 0, 360, 1.0, -1)
    blurred = cv2.GaussianBlur(shadow, (0, 0), sigmaX=max(1.0, size * 0.08))
    pixels = (pixels.astype(np.float32) * (1 - 0.35 * blurred[:, :, None])).astype(np.uint8)
    corners = int(rng.integers(3, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    radii = size / 2 * rng.uniform(0.6, 1.0, corners)
    polygon = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1).round().astype(np.int32)
    colour = tuple(int(c) for c in rng.integers(0, 220, size=3))
    cv2.fillPoly(pixels, [polygon], colour, cv2.LINE_AA)
    highlight = tuple(min(255, c + 60) for c in colour)
    cv2.circle(pixels, (round(cx - size * 0.1), round(cy - size * 0.1)), max(1, round(size * 0.08)), highlight, -1, cv2.LINE_AA)
    return pixels


def line_drawing(rng: np.random.Generator, width: int, height: int, strength: float) -> np.ndarray:
    """A few thin dark pen strokes on white paper."""
    pixels = np.full((height, width, 3), int(rng.integers(235, 256)), dtype=np.uint8)
    thickness = max(1, round(max(width, height) / 500))
    ink = int(rng.integers(0, 80))
    for _ in range(int(rng.integers(3, 9))):
        points = rng.uniform((0.1 * width, 0.1 * height), (0.9 * width, 0.9 * height), size=(int(rng.integers(3, 7)), 2))
        # Smooth the random polyline into a curve by resampling it with a small moving average.
        dense = np.concatenate([np.linspace(a, b, 24, endpoint=False) for a, b in zip(points[:-1], points[1:])])
        kernel = np.ones(9) / 9
        smooth = np.stack([np.convolve(dense[:, k], kernel, mode="valid") for k in range(2)], axis=1)
        cv2.polylines(pixels, [smooth.round().astype(np.int32)], False, (ink, ink, ink), thickness, cv2.LINE_AA)
    return pixels


LOOKALIKE_NEGATIVES: dict[str, Callable[[np.random.Generator, int, int, float], np.ndarray]] = {
    "night_sky": night_sky,
    "product_on_white": product_on_white,
    "line_drawing": line_drawing,
}

# "overlap_crop" is drawn from the source photo, not from the original's pixels: see sources.py.
HARD_NEGATIVE_KINDS: tuple[str, ...] = ("overlap_crop", *EDIT_NEGATIVES, *LOOKALIKE_NEGATIVES)
