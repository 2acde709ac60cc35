"""Which edits outside the builders' lists are found: a probe of the stated tolerances, not a tuning set.

Usage: python experiments/edits_probe.py SOURCE OUT [--peers]
SOURCE is a built photo set (`dupbench dataset real OUT --class photos --split all`); its originals at
least MIN_SIDE on the short side are taken. For each edit in EDITS, OUT/<edit>/ holds every original and
one edited copy of it, with ground truth, so each folder scores one edit alone (several copies of one
picture in one folder would also score how groups form around a keeper). dupbench runs on each folder
(`--mode process`, defaults) and is scored by `dupbench evaluate`; with --peers, benchmarks/peers.py
scores dupbench, imagededup's PHash and difPy "similar" on the same folders. Prints one table row per
edit: true pairs, recall, false pairs.

The builders plant what the detector is meant to find (re-encodes, JPEG down to quality 40, resizes,
crops of at most 5% a side, tone edits, turns and mirrors); the edits here go past those on purpose
(grey, harder compression, borders, bigger crops, larger rotations, a stretch, a watermark, fewer
colours, white-balance casts) so a reader sees where the stated tolerances end. None of these folders was used to set a threshold.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from dupbench.datasets.ground_truth import FILENAME, GroundTruth, read_ground_truth, write_ground_truth
from dupbench.datasets.real import Writer
from dupbench.datasets.transforms import encode

MIN_SIDE = 64
WATERMARK = "(c) dupbench 2026"


def turned(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)


def bordered(image: np.ndarray, share: float, value: int) -> np.ndarray:
    h, w = image.shape[:2]
    side = max(2, round(min(h, w) * share))
    return cv2.copyMakeBorder(image, side, side, side, side, cv2.BORDER_CONSTANT, value=(value,) * 3)


def watermarked(image: np.ndarray) -> np.ndarray:
    """White text across the middle at half opacity, as a photo site stamps it."""
    h, w = image.shape[:2]
    stamped = image.copy()
    cv2.putText(stamped, WATERMARK, (w // 10, h // 2), cv2.FONT_HERSHEY_SIMPLEX, w / 500, (255, 255, 255), max(1, w // 300))
    return cv2.addWeighted(image, 0.5, stamped, 0.5, 0)


def saturated(image: np.ndarray, factor: float) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * factor, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def sharpened(image: np.ndarray) -> np.ndarray:
    return cv2.addWeighted(image, 1.8, cv2.GaussianBlur(image, (0, 0), 1.0), -0.8, 0)


def small(image: np.ndarray, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (width, max(1, round(width * h / w))), interpolation=cv2.INTER_AREA)


def white_balanced(image: np.ndarray, shift: float) -> np.ndarray:
    """Red gain 1 + shift and blue gain 1 - shift (a warmer white balance; a negative shift is cooler)."""
    gains = np.array([1.0 - shift, 1.0, 1.0 + shift], np.float32)  # BGR
    return np.clip(image.astype(np.float32) * gains, 0, 255).astype(np.uint8)


def palette(image: np.ndarray, colours: int) -> np.ndarray:
    """Reduced to `colours` by Pillow's median cut, no dithering (what a GIF or an 8-bit PNG keeps)."""
    rgb = Image.fromarray(np.ascontiguousarray(image[..., ::-1]))
    return np.ascontiguousarray(np.asarray(rgb.quantize(colours, method=Image.Quantize.MEDIANCUT).convert("RGB"))[..., ::-1])


def cut(image: np.ndarray, left: float, right: float, top: float, bottom: float) -> np.ndarray:
    h, w = image.shape[:2]
    return image[round(h * top) : h - round(h * bottom), round(w * left) : w - round(w * right)]


# name -> (what a person would call it, the edit, the extension and quality it is saved at)
EDITS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray], str, int | None]] = {
    "jpeg_q20": ("JPEG quality 20", lambda im: im, ".jpg", 20),
    "webp_q30": ("WebP quality 30", lambda im: im, ".webp", 30),
    "thumbnail_160": ("160 px wide thumbnail, JPEG 75", lambda im: small(im, 160), ".jpg", 75),
    "sharpen": ("unsharp mask", sharpened, ".jpg", 90),
    "saturation_1.4": ("saturation x1.4", lambda im: saturated(im, 1.4), ".jpg", 90),
    "watermark": ("half-opaque text across the middle", watermarked, ".jpg", 90),
    "stretch_10": ("stretched 10% wider", lambda im: cv2.resize(im, (round(im.shape[1] * 1.1), im.shape[0])), ".jpg", 90),
    "crop_5_each": ("5% off every side (the stated tolerance)", lambda im: cut(im, 0.05, 0.05, 0.05, 0.05), ".jpg", 90),
    "crop_10_one": ("10% off one side", lambda im: cut(im, 0.0, 0.10, 0.0, 0.0), ".jpg", 90),
    "border_5_black": ("black border, 5% of the short side", lambda im: bordered(im, 0.05, 0), ".jpg", 90),
    "frame_20_white": ("white frame, 20% of the short side", lambda im: bordered(im, 0.20, 255), ".jpg", 90),
    "rotate_5": ("turned 5 degrees", lambda im: turned(im, 5), ".jpg", 90),
    "rotate_8": ("turned 8 degrees", lambda im: turned(im, 8), ".jpg", 90),
    "grey": ("grey (saturation 0)", grey, ".jpg", 90),
    "palette_256": ("256 colours (median cut), PNG", lambda im: palette(im, 256), ".png", None),
    "palette_16": ("16 colours (median cut), PNG", lambda im: palette(im, 16), ".png", None),
    "thumbnail_64": ("64 px wide thumbnail, PNG", lambda im: small(im, 64), ".png", None),
    "warm_5": ("white balance: red x1.05, blue x0.95", lambda im: white_balanced(im, 0.05), ".jpg", 90),
    "warm_10": ("white balance: red x1.10, blue x0.90", lambda im: white_balanced(im, 0.10), ".jpg", 90),
    "cool_10": ("white balance: red x0.90, blue x1.10", lambda im: white_balanced(im, -0.10), ".jpg", 90),
}


def build(source: Path, folder: Path, edit: str) -> GroundTruth:
    """OUT/<edit>: each original of SOURCE and its edited copy, with ground truth."""
    truth = read_ground_truth(source / FILENAME)
    label, apply, ext, quality = EDITS[edit]
    writer = Writer(folder)
    for entry in (e for e in truth.images if e.role == "original"):
        data = (source / entry.path).read_bytes()
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if pixels is None or min(pixels.shape[:2]) < MIN_SIDE:
            continue
        folder_name, stem = Path(entry.path).parent.as_posix(), Path(entry.path).stem
        original = writer.write(writer.name(folder_name, stem, Path(entry.path).suffix), data, "original", "original", entry.group, source=entry.source)
        copy = encode(np.ascontiguousarray(apply(pixels)), ext, quality)
        writer.write(writer.name(folder_name, stem, ext), copy, "copy", edit, entry.group, derived_from=original.path, params={"edit": label})
    probe = replace(
        truth,
        profile=f"edits-probe-{edit}",
        n_images=len(writer.entries),
        images=tuple(sorted(writer.entries, key=lambda e: e.path)),
        settings={"source_set": str(source), "edit": edit, "label": label},
    )
    write_ground_truth(probe, folder / FILENAME)
    return probe


def dupbench(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "dupbench", *args], capture_output=True, text=True, check=True)


def score_dupbench(folder: Path, out: Path) -> tuple[int, float, int]:
    """True pairs, recall and false pairs of `dupbench run --mode process` on one folder."""
    report, evaluation = out / f"{folder.name}-report.json", out / f"{folder.name}-evaluation.json"
    dupbench("run", str(folder), "--mode", "process", "--no-cache", "--quiet", "--output", str(report))
    dupbench("evaluate", str(folder), str(report), "--output", str(evaluation), "--quiet")
    scores = json.loads(evaluation.read_text())["evaluation"]
    return scores["any"]["true_pairs"], scores["any"]["recall"], scores["harm"]["false_pairs"]


def score_peers(folder: Path, out: Path) -> dict[str, tuple[float, int]]:
    """Recall and false pairs per peer (benchmarks/peers.py, one run each) on one folder."""
    peers = Path(__file__).resolve().parent.parent / "benchmarks" / "peers.py"
    tools = "imagededup-phash,difpy-similar"
    command = [sys.executable, str(peers), str(folder), "--repeats", "1", "--tools", tools, "--out", str(out / "peers"), "--name", folder.name]
    subprocess.run(command, capture_output=True, text=True, check=True)
    written = sorted((out / "peers").glob(f"*/{folder.name}/*.json"))
    rows = json.loads(next(p for p in reversed(written) if not p.name.endswith("-reports.json")).read_text())["rows"]
    return {row["tool"]: (row["any_r"], row["false_pairs"]) for row in rows}


def provenance(args: argparse.Namespace) -> str:
    """One line of where the table comes from: machine, versions, commit and command."""
    from dupbench.harness.metadata import collect_metadata

    meta = collect_metadata(Path(__file__).resolve().parent.parent)
    versions = ", ".join(f"{name} {meta['libraries'].get(name)}" for name in ("numpy", "opencv"))
    return (
        f"Machine {meta['cpu_model']}, {len(meta['allowed_cores'])} cores; Python {meta['python']['version']}, {versions}; "
        f"commit {meta['git']['short_commit']}; `python experiments/edits_probe.py {' '.join(sys.argv[1:])}`; "
        f"{sum(1 for _ in read_ground_truth(args.source / FILENAME).images if _.role == 'original')} originals in {args.source.name}.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a built photo set (dupbench dataset real ... --class photos)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--peers", action="store_true", help="also score imagededup PHash and difPy on each folder")
    args = parser.parse_args()
    if not (args.source / FILENAME).exists():
        parser.error(f"{args.source} has no {FILENAME}: build it with `dupbench dataset real`")
    args.out.mkdir(parents=True, exist_ok=True)
    print(provenance(args))
    header = "| edit | what | true pairs | dupbench R | dupbench false pairs |"
    rule = "|---|---|---:|---:|---:|"
    if args.peers:
        header += " PHash R | PHash false pairs | difPy similar R | difPy false pairs |"
        rule += "---:|---:|---:|---:|"
    print(header)
    print(rule)
    for edit, (label, *_) in EDITS.items():
        folder = args.out / edit
        if not (folder / FILENAME).exists():
            build(args.source, folder, edit)
        pairs, recall, false_pairs = score_dupbench(folder, args.out)
        row = f"| {edit} | {label} | {pairs} | {recall:.3f} | {false_pairs} |"
        if args.peers:
            peers = score_peers(folder, args.out)
            row += "".join(f" {peers[tool][0]:.3f} | {peers[tool][1]} |" for tool in ("imagededup-phash", "difpy-similar"))
        print(row, flush=True)


if __name__ == "__main__":
    main()
