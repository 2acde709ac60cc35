"""Small generated image folders with known duplicate groups (real photos from scikit-image)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
from skimage import data

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "rocket", "coins", "brick", "grass")


def photo(name: str, width: int = 160) -> np.ndarray:
    image = getattr(data, name)()
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    else:
        image = cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2BGR)
    height = round(image.shape[0] * width / image.shape[1])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def build_planted_folder(root: Path, width: int = 160) -> list[set[str]]:
    """Distinct photos; half of them get a byte copy, a lossless re-encode, a JPEG q40 copy, a half-size
    copy and (except the fine brick texture, whose thumbnail SSIM a 2% crop shifts below any useful
    threshold) a 2%-cropped copy. Returns the expected groups as sets of paths."""
    expected = []
    (root / "copies").mkdir(parents=True)
    for index, name in enumerate(PHOTOS):
        image = photo(name, width)
        original = root / f"{name}.png"
        cv2.imwrite(str(original), image)
        if index % 2:
            continue
        group = {str(original)}
        byte_copy = root / "copies" / f"{name} copy.png"
        shutil.copy(original, byte_copy)
        lossless = root / "copies" / f"{name}.bmp"
        cv2.imwrite(str(lossless), image)
        jpeg = root / "copies" / f"{name}_q40.JPG"
        cv2.imwrite(str(jpeg), image, [cv2.IMWRITE_JPEG_QUALITY, 40])
        small = root / "copies" / f"{name}_half.jpg"
        cv2.imwrite(str(small), cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 90])
        group |= {str(p) for p in (byte_copy, lossless, jpeg, small)}
        if name != "brick":
            h, w = image.shape[:2]
            crop = root / "copies" / f"{name}_crop.png"
            cv2.imwrite(str(crop), image[h // 50 : h - h // 50, w // 50 : w - w // 50])
            group.add(str(crop))
        expected.append(group)
    return expected
