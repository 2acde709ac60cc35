"""What a camera RAW costs to load, next to a JPEG of the same size.

Usage: python benchmarks/raw_cost.py [--megapixels 24] [--repeats 5]
No camera file can be had offline, so it writes DNGs (tests/dng.py) of a 3:2 sensor with the given
pixel count: one with a camera-sized JPEG preview (1620x1080, as Sony's ARW carries), one with a
full-size preview (as Canon's CR2 and Nikon's NEF carry), one with none (developed at half size), and a
full-size JPEG for comparison. Each is loaded (`load_features`, what the load stage runs per file)
`--repeats` times in a fresh interpreter; it prints the median seconds and the interpreter's peak RSS
growth, with the machine, versions and commit. The full-resolution pixel digest of a RAW (taken only
for files whose thumbnails matched) develops it at half size: the "no preview" row.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The child warms up on a small JPEG (and imports rawpy) so that neither the timings nor the peak include
# imports; peak RSS is VmHWM (ru_maxrss would carry the parent's peak across exec).
CHILD = r"""
import json, sys, tempfile, time
import cv2, numpy as np
from dupbench.config import DetectorConfig
from dupbench.detector.load import load_features
def hwm_kib():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
path, repeats = sys.argv[1], int(sys.argv[2])
config = DetectorConfig()
with tempfile.NamedTemporaryFile(suffix=".jpg") as small:
    small.write(cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))[1].tobytes()); small.flush()
    load_features(small.name, config)
import rawpy
before = hwm_kib()
times = []
for _ in range(repeats):
    start = time.perf_counter()
    result = load_features(path, config)
    times.append(time.perf_counter() - start)
    assert not hasattr(result, "reason"), result.reason
peak = hwm_kib()
print(json.dumps({"times": times, "rss_growth_kib": peak - before, "size": [result.width, result.height]}))
"""


def picture(width: int, height: int):  # type: ignore[no-untyped-def]
    import cv2
    import numpy as np
    from skimage import data

    rng = np.random.default_rng(0)
    image = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(image.astype(np.int16) + rng.normal(0, 3, image.shape).astype(np.int16), 0, 255).astype(np.uint8)  # sensor noise: a realistic JPEG size


def write_files(folder: Path, megapixels: float) -> dict[str, Path]:
    import cv2

    sys.path.insert(0, str(ROOT / "tests"))
    from dng import make_dng

    height = round((megapixels * 1e6 / 1.5) ** 0.5 / 2) * 2
    width = height * 3 // 2
    half = picture(width // 2, height // 2)  # the mosaic is twice its picture's size
    full = cv2.resize(half, (width, height), interpolation=cv2.INTER_CUBIC)
    small = cv2.resize(full, (1620, 1080), interpolation=cv2.INTER_AREA)
    jpeg = cv2.imencode(".jpg", full, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
    files = {
        f"JPEG {width}x{height}": (".jpg", jpeg),
        "DNG, 1620x1080 preview": (".dng", make_dng(half, cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes(), (1620, 1080))),
        f"DNG, {width}x{height} preview": (".dng", make_dng(half, jpeg, (width, height))),
        "DNG, no preview (half-size development)": (".dng", make_dng(half)),
    }
    paths = {}
    for index, (name, (suffix, data)) in enumerate(files.items()):
        paths[name] = folder / f"{index}{suffix}"
        paths[name].write_bytes(data)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from dupbench.harness.metadata import collect_metadata

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in write_files(Path(tmp), args.megapixels).items():
            done = subprocess.run([sys.executable, "-c", CHILD, str(path), str(args.repeats)], capture_output=True, text=True, check=True)
            rows.append((name, path.stat().st_size, json.loads(done.stdout)))
    meta = collect_metadata(ROOT)
    libraries = ", ".join(f"{k} {meta['libraries'][k]}" for k in ("numpy", "opencv") if k in meta["libraries"])
    import PIL
    import rawpy

    print(
        f"# machine {meta['machine']} ({meta['cpu_model']}, {len(meta['allowed_cores'])} cores allowed, shared with other work), commit "
        f"{meta['git']['short_commit']}{' (dirty)' if meta['git']['dirty'] else ''}, Python {meta['python']['version']}, {libraries}, Pillow {PIL.__version__}, "
        f"rawpy {rawpy.__version__} (LibRaw {rawpy.libraw_version})"
    )
    print(f"# python benchmarks/raw_cost.py --megapixels {args.megapixels:g} --repeats {args.repeats}")
    base = statistics.median(rows[0][2]["times"])
    print("| file | file MiB | load s (median) | vs JPEG | peak RSS growth MiB |")
    print("|---|---:|---:|---:|---:|")
    for name, size, result in rows:
        median = statistics.median(result["times"])
        print(f"| {name} | {size / 2**20:.1f} | {median:.3f} | {median / base:.1f}x | {result['rss_growth_kib'] / 1024:.0f} |")


if __name__ == "__main__":
    main()
