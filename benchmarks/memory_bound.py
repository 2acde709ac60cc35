"""Peak memory of `dupbench run` on a folder of huge and hostile files, per mode, against the budget.

Usage: python benchmarks/memory_bound.py [--modes serial thread process] [--workers 2] [--keep DIR]

The folder (built in a temporary directory, outside any timing) holds: two sparse 1.5 GiB files named
.jpg and .png (no disk used; over --max-file-size), a Radiance HDR named .jpg whose header claims
30000x30000, a PNG whose header claims 200000x200000, a legal 510 MiB BMP of a black 13000 x 13700
picture (a hole after its header: the whole file is read, then decoded), two 16384x16384 PNGs with equal pixels and
different bytes (2^28 pixels, the pixel limit: both are decoded in full for the pixel check), a 10000 x 10000 PNG
with alpha (the limit for images with transparency, which are decoded twice and composited), an 8192 x
8192 Radiance HDR (2^26 float pixels: the float formats' limit), and 24 small photos with planted copies.

Each mode runs `dupbench run` in a child, under an address-space limit (so a bug cannot take the
machine with it), while the RSS of the child and all its descendants is summed every 10 ms; the peak
is that sum's maximum (shared pages counted once per process: an overestimate). The budget is the
documented one (README, "Memory"): the same mode's peak on the small photos alone (the base), plus, for
each concurrent decode (1 serial, N workers otherwise), one whole file (--max-file-size) and
OPAQUE_BYTES_PER_PIXEL bytes per pixel of the pixel limit (images that cost more per pixel, with
transparency or in a float format, have a lower pixel limit: load.check_decoded_size).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import psutil
from PIL import Image

from dupbench.config import DEFAULT_MAX_FILE_SIZE, DetectorConfig, available_cpus
from dupbench.detector.decode import OPAQUE_BYTES_PER_PIXEL
from dupbench.harness.metadata import collect_metadata

SAMPLE_S = 0.01
ADDRESS_LIMIT = 16 << 30  # per process; far above the budget, far below what a runaway decode would map
MIB = 2**20


def sparse(path: Path, head: bytes, size: int, tail: bytes = b"") -> None:
    """A file of `size` bytes that occupies no disk beyond `head` and `tail`: a hole between them."""
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size - len(tail))
        fh.seek(size - len(tail))
        fh.write(tail)


def png_bomb(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (64, 64)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def black_bmp(path: Path, width: int, height: int) -> int:
    """A legal 24-bit BMP of a black picture: headers, then a hole (zero bytes are black pixels). Returns its size."""
    stride = (width * 3 + 3) // 4 * 4
    size = 54 + stride * height
    header = b"BM" + size.to_bytes(4, "little") + bytes(4) + (54).to_bytes(4, "little")
    header += (40).to_bytes(4, "little") + width.to_bytes(4, "little") + height.to_bytes(4, "little")
    header += (1).to_bytes(2, "little") + (24).to_bytes(2, "little") + bytes(4) + (stride * height).to_bytes(4, "little") + bytes(16)
    sparse(path, header, size)
    return size


def gradient(side: int) -> np.ndarray:
    ramp = np.linspace(0, 255, side, dtype=np.float32).astype(np.uint8)
    image = np.empty((side, side, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = ramp[None, :], ramp[:, None], 128
    return image


def small_photos(folder: Path) -> None:
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon", "brick"):
        image = getattr(data, name)()
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        image = cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"{name}.png"), image)
        cv2.imwrite(str(folder / f"{name} copy.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        cv2.imwrite(str(folder / f"{name} small.png"), cv2.resize(image, (200, 200), interpolation=cv2.INTER_AREA))


def build_hostile(folder: Path) -> list[str]:
    """The hostile and huge files, beside a `small/` folder of photos; returns what was made."""
    folder.mkdir(parents=True, exist_ok=True)
    small_photos(folder / "small")
    sparse(folder / "sparse 1.5 GiB.jpg", b"\xff\xd8\xff\xe0", 1536 * MIB)
    sparse(folder / "sparse 1.5 GiB.png", cv2.imencode(".png", np.zeros((64, 64), np.uint8))[1].tobytes(), 1536 * MIB)
    (folder / "hdr claiming 30000x30000.jpg").write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 30000 +X 30000\n" + bytes(4096))
    (folder / "png claiming 200000x200000.png").write_bytes(png_bomb(200_000, 200_000))
    black_bmp(folder / "legal 510 MiB black.bmp", 13000, 13700)  # 178 Mpixels, all of it read and decoded
    image = gradient(16384)
    for level in (1, 6):
        cv2.imwrite(str(folder / f"2^28 pixels level {level}.png"), image, [cv2.IMWRITE_PNG_COMPRESSION, level])
    del image
    alpha = np.dstack([gradient(10000), np.linspace(0, 255, 10000, dtype=np.float32).astype(np.uint8)[None, :].repeat(10000, 0)])
    cv2.imwrite(str(folder / "10^8 pixels with alpha.png"), alpha, [cv2.IMWRITE_PNG_COMPRESSION, 1])  # the alpha limit
    del alpha
    hdr = np.dstack([np.linspace(0, 4, 8192, dtype=np.float32)[None, :].repeat(8192, 0)] * 3)
    cv2.imwrite(str(folder / "2^26 float pixels.hdr"), hdr)
    del hdr
    return sorted(p.name for p in folder.iterdir())


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_LIMIT, ADDRESS_LIMIT))


def peak_run(folder: Path, mode: str, workers: int) -> dict:
    """Run `dupbench run` on `folder`; the peak summed RSS of its process tree and of its largest process."""
    command = [
        sys.executable,
        "-m",
        "dupbench",
        "run",
        str(folder),
        "--mode",
        mode,
        "--workers",
        str(workers),
        "--no-cache",
        "--quiet",
        "--output",
        str(folder.parent / f"report-{mode}.json"),
    ]
    started = time.perf_counter()
    child = subprocess.Popen(command, preexec_fn=_limit_address_space, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(child.pid)
    peak_tree = peak_single = 0
    while child.poll() is None:
        try:
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        sizes = []
        for process in processes:
            try:
                sizes.append(process.memory_info().rss)
            except psutil.NoSuchProcess:
                continue
        peak_tree, peak_single = max(peak_tree, sum(sizes)), max(peak_single, max(sizes, default=0))
        time.sleep(SAMPLE_S)
    stderr = child.stderr.read()
    import json

    report = json.loads((folder.parent / f"report-{mode}.json").read_text()) if child.returncode == 0 else {}
    return {
        "rc": child.returncode,
        "stderr": stderr[-500:],
        "seconds": time.perf_counter() - started,
        "peak_tree": peak_tree,
        "peak_single": peak_single,
        "skipped": report.get("skipped", []),
        "images": report.get("counts", {}).get("images"),
        "pixel_checks": report.get("counts", {}).get("pixel_checks"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", nargs="+", default=["serial", "thread", "process"])
    parser.add_argument("--workers", type=int, default=available_cpus())
    parser.add_argument("--keep", type=Path, default=None, help="build the folder here and keep it (default: a temporary one)")
    args = parser.parse_args()
    config = DetectorConfig()
    per_decode = DEFAULT_MAX_FILE_SIZE + OPAQUE_BYTES_PER_PIXEL * config.max_pixels
    with tempfile.TemporaryDirectory(prefix="dupbench-memory-") as scratch:
        folder = (args.keep or Path(scratch)) / "hostile"
        names = build_hostile(folder)
        rows = []
        for mode in args.modes:
            concurrency = 1 if mode == "serial" else args.workers
            base = peak_run(folder / "small", mode, args.workers)
            run = peak_run(folder, mode, args.workers)
            budget = base["peak_tree"] + concurrency * per_decode
            rows.append((mode, concurrency, base, run, budget))
    meta = collect_metadata(Path(__file__).resolve().parents[1])
    print(
        f"# command: python benchmarks/memory_bound.py {' '.join(sys.argv[1:])} (commit {meta['git']['short_commit']}"
        f"{', dirty' if meta['git']['dirty'] else ''}), {meta['collected_utc']}"
    )
    print(
        f"# {meta['machine']} ({meta['cpu_model']}), {len(meta['allowed_cores'])} cores, "
        f"{meta['memory_total_bytes'] / 2**30:.0f} GiB, Python {meta['python']['version']}, "
        f"OpenCV {cv2.__version__}, numpy {np.__version__}, Pillow {Image.__version__}, psutil {psutil.__version__}"
    )
    print(
        f"# budget per concurrent decode: --max-file-size {DEFAULT_MAX_FILE_SIZE // MIB} MiB + {OPAQUE_BYTES_PER_PIXEL} B x "
        f"{config.max_pixels} pixels = {per_decode / MIB:.0f} MiB; budget = base (same mode, small photos only) + "
        f"concurrency x that"
    )
    print(f"# files: {'; '.join(names)}")
    print(
        f"{'mode':8s} {'conc':>4s} {'base MiB':>9s} {'peak MiB':>9s} {'largest proc':>12s} {'budget MiB':>10s} {'within':>6s} "
        f"{'wall s':>7s} {'images':>6s} {'skipped':>7s} {'rc':>3s}"
    )
    for mode, concurrency, base, run, budget in rows:
        print(
            f"{mode:8s} {concurrency:4d} {base['peak_tree'] / MIB:9.0f} {run['peak_tree'] / MIB:9.0f} "
            f"{run['peak_single'] / MIB:12.0f} {budget / MIB:10.0f} {'yes' if run['peak_tree'] <= budget else 'NO':>6s} "
            f"{run['seconds']:7.1f} {run['images']!s:>6s} {len(run['skipped']):7d} {run['rc']:3d}"
        )
    print("# skip reasons (last mode):")
    for item in rows[-1][3]["skipped"]:
        print(f"#   {os.path.basename(item['path'])}: {item['reason']}")
    for mode, _, base, run, _ in rows:
        if run["rc"] != 0 or base["rc"] != 0:
            print(f"# {mode} failed: {run['stderr'] or base['stderr']}")


if __name__ == "__main__":
    main()
