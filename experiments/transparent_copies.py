"""Two transparent pictures, as verification sees them: synthetic copies of real drawings against the
pairs a committed accuracy run grouped.

Usage: python experiments/transparent_copies.py REPORT.json... -- DATASET...
For up to 300 originals with transparency of each DATASET (a `dupbench dataset real` folder), six copies
are made (half size, double size, WebP 80, brightness +30, contrast 1.2, gamma 0.8) and each (original,
copy) pair is verified as a screened pair; so is every transparent (keeper, member) pair of each REPORT.
Prints, per kind, the region difference (`verify.region_difference`, measured where both pictures are
at least the detail side and the pair passed the checks before it) and the verdicts: what set
`region_ceiling`. Output committed in results/accuracy/.
"""

from __future__ import annotations

import collections
import json
import random
import sys
from pathlib import Path

import cv2
import numpy as np

from dupbench.config import DetectorConfig
from dupbench.detector.features import ImageFeatures
from dupbench.detector.load import features_of
from dupbench.detector.pipeline import verify_inputs
from dupbench.detector.verify import REASONS, decide, gather_evidence, pair_scores

CONFIG = DetectorConfig()
ORIGINALS = 300


def judged(a: ImageFeatures, b: ImageFeatures) -> tuple[float, str, float]:
    """(region difference, verdict, screen score) of the pair (a, b) as stored."""
    inputs = verify_inputs([a, b], np.arange(2), CONFIG)
    left, right, turn = np.array([0]), np.array([1]), np.array([0])
    screen = pair_scores(inputs.thumb, left, right, turn)
    evidence = gather_evidence(inputs, left, right, turn, screen, CONFIG)
    return float(evidence.region[0]), REASONS[decide(evidence, CONFIG)[0]], float(screen[0])


def toned(image: np.ndarray, edit) -> np.ndarray:
    out = image.copy()
    out[..., :3] = np.clip(edit(image[..., :3].astype(np.float32)), 0, 255).astype(np.uint8)
    return out


def copies_of(path: Path) -> dict[str, bytes] | None:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 3 or image.shape[2] != 4:
        return None
    height, width = image.shape[:2]

    def png(x: np.ndarray) -> bytes:
        return cv2.imencode(".png", x)[1].tobytes()

    return {
        "half": png(cv2.resize(image, (max(1, width // 2), max(1, height // 2)), interpolation=cv2.INTER_AREA)),
        "double": png(cv2.resize(image, (width * 2, height * 2), interpolation=cv2.INTER_CUBIC)),
        "webp80": cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, 80])[1].tobytes(),
        "bright+30": png(toned(image, lambda x: x + 30)),
        "contrast1.2": png(toned(image, lambda x: (x - 128) * 1.2 + 128)),
        "gamma0.8": png(toned(image, lambda x: 255 * (x / 255) ** 0.8)),
    }


def features(path: str, data: bytes) -> ImageFeatures | None:
    loaded = features_of(path, data, CONFIG)
    return loaded if isinstance(loaded, ImageFeatures) else None


def main(reports: list[str], datasets: list[str]) -> None:
    rows: dict[str, list[tuple[float, str, float, str]]] = collections.defaultdict(list)
    for root in map(Path, datasets):
        truth = json.loads((root / "ground_truth.json").read_text())
        originals = [root / image["path"] for image in truth["images"] if image["role"] == "original"]
        random.Random(0).shuffle(originals)
        for path in originals[:ORIGINALS]:
            made = copies_of(path)
            original = features(str(path), path.read_bytes())
            if made is None or original is None or original.alpha is None:
                continue
            for kind, data in made.items():
                copy = features(f"/copy/{kind}.png", data)
                if copy is not None:
                    rows[kind].append((*judged(original, copy), path.name))
    for report in reports:
        for group in json.loads(Path(report).read_text())["groups"]:
            keeper = features(group["keeper"], Path(group["keeper"]).read_bytes())
            for member in group["members"]:
                other = features(member["path"], Path(member["path"]).read_bytes())
                if keeper is not None and other is not None and keeper.alpha is not None and other.alpha is not None:
                    rows["grouped"].append((*judged(keeper, other), f"{Path(group['keeper']).name} ~ {Path(member['path']).name}"))
    print(f"region_ceiling {CONFIG.region_ceiling}; datasets {' '.join(datasets)}; reports {' '.join(reports)}")
    for kind, found in rows.items():
        region = np.array([row[0] for row in found])
        measured = region[~np.isnan(region)]
        spread = np.round(np.quantile(measured, [0.5, 0.95, 0.99, 1.0]), 1).tolist() if len(measured) else "-"
        verdicts = dict(collections.Counter(row[1] for row in found))
        print(
            f"{kind}: {len(found)} pairs, {len(measured)} measured, region median/95%/99%/max {spread}, over the ceiling {int((measured > CONFIG.region_ceiling).sum())}, verdicts {verdicts}"
        )
        for row in sorted(found, key=lambda row: -np.nan_to_num(row[0]))[: 20 if kind == "grouped" else 3]:
            print(f"    region {row[0]:.1f} screen {row[2]:.3f} {row[1]}: {row[3]}")


if __name__ == "__main__":
    split = sys.argv.index("--")
    main(sys.argv[1:split], sys.argv[split + 1 :])
