"""Dataset profiles: how many files of each kind, at what size and quality.

A profile is data, not code: the generator reads the shares and ranges from it, so a new profile (or a
`dataclasses.replace` of one, as `--long-side` does) needs no change to the generator.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dupbench.datasets.transforms import COPY_TRANSFORMS, HARD_NEGATIVE_KINDS

Weights = tuple[tuple[str, float], ...]

ALL_COPIES: Weights = tuple((name, 1.0) for name in COPY_TRANSFORMS)
ALL_HARD_NEGATIVES: Weights = tuple((name, 1.0) for name in HARD_NEGATIVE_KINDS)


@dataclass(frozen=True)
class Profile:
    """Composition and look of a generated dataset.

    ``copy_share`` and ``hard_negative_share`` are fractions of all files; originals fill the rest.
    ``strength`` is where in each transformation's parameter range the copies are drawn: 0 is the mild
    end, 1 the strongest still-duplicate edit (and, for hard negatives, the most similar non-duplicate).
    """

    name: str
    description: str
    copy_share: float
    hard_negative_share: float
    copy_weights: Weights = ALL_COPIES
    hard_negative_weights: Weights = ALL_HARD_NEGATIVES
    copies_per_original: tuple[int, int] = (1, 3)
    long_side: tuple[int, int] = (480, 960)
    jpeg_quality: tuple[int, int] = (85, 95)
    png_share: float = 0.2
    grain_sigma: float = 2.0
    strength: tuple[float, float] = (0.0, 1.0)
    crop_scale: tuple[float, float] = (0.3, 0.9)
    min_original_std: float = 12.0
    distinct_margin: float = 0.15

    def __post_init__(self) -> None:
        if not 0.0 <= self.copy_share + self.hard_negative_share < 1.0:
            raise ValueError("copy_share + hard_negative_share must be in [0, 1)")
        if self.long_side[0] < 64 or self.long_side[0] > self.long_side[1]:
            raise ValueError(f"long_side must be an ordered range starting at >= 64, got {self.long_side}")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise ValueError(f"jpeg_quality must be an ordered range in 1..100, got {self.jpeg_quality}")
        for name, _ in self.copy_weights:
            if name not in COPY_TRANSFORMS:
                raise ValueError(f"unknown transformation {name!r}")
        for name, _ in self.hard_negative_weights:
            if name not in HARD_NEGATIVE_KINDS:
                raise ValueError(f"unknown hard-negative kind {name!r}")

    def with_long_side(self, low: int, high: int) -> Profile:
        return replace(self, long_side=(low, high))


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="demo",
            description="small mixed set (60 files: every transformation and hard-negative kind) for `dupbench run`",
            copy_share=0.4,
            hard_negative_share=0.2,
            long_side=(320, 640),
        ),
        Profile(
            name="study",
            description="mixed set for the scaling experiments; --full-size mimics a phone-photo folder",
            copy_share=0.3,
            hard_negative_share=0.12,
        ),
        Profile(
            name="hard",
            description="near-threshold cases: strongest still-duplicate edits, close non-duplicates, many look-alikes",
            copy_share=0.35,
            hard_negative_share=0.3,
            strength=(0.8, 1.0),
        ),
    )
}

# Phone-camera sized originals (--full-size). Not yet calibrated to the 1,472 files / ~520 MB target: lossless
# BMP/TIFF/PNG copies of 12 MP originals are ~36 MB each and dominate the total.
FULL_SIZE_LONG_SIDE: tuple[int, int] = (3000, 4032)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}") from None
