"""Work units for the GIL demonstration, each standing for one stage of the detector.

Each kernel is a plain function of one prepared input. A task sent to a pool is only
``(workload, index)``: the inputs are built once per process (inherited by fork, rebuilt by an
initializer under spawn/forkserver) so the measurement shows how the *work* runs in parallel, not how
much it costs to ship megabytes to a worker (that is measured on its own in ``overheads``).

OpenCV is optional: interpreters without a cv2 wheel (free-threaded CPython) decode and resize with
Pillow, which also releases the GIL around its C loops. The backend in use is recorded in every result.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dupbench.detector.ssim import SsimTerms, ssim_one_to_many, ssim_terms

try:  # OpenCV has no free-threaded wheel; everything below has a Pillow/numpy path, and uses cv2 only if HAVE_CV2.
    import cv2

    HAVE_CV2 = True
except ImportError:  # pragma: no cover - exercised on the free-threaded build
    HAVE_CV2 = False

BACKEND_CV2 = "cv2"
BACKEND_PILLOW = "pillow"
THUMB_SIZE = 64
SIMULATED_DISK_LATENCY_S = 0.010


def default_backend() -> str:
    """OpenCV where it can be imported, else Pillow/numpy."""
    return BACKEND_CV2 if HAVE_CV2 else BACKEND_PILLOW


@dataclass(frozen=True)
class Workload:
    """Everything a worker needs to rebuild a kernel's inputs deterministically (hashable, tiny to pickle)."""

    kernel: str
    tasks: int
    backend: str = BACKEND_CV2
    seed: int = 7
    data_dir: str | None = None


@dataclass(frozen=True)
class KernelSpec:
    """One kernel: what detector stage it stands for and what we expect the GIL to do to it."""

    name: str
    stage: str
    label: str
    gil: str  # "holds", "releases" or "waits": the expectation, which the measurements confirm or not
    default_tasks: int
    build: Callable[[Workload], Sequence[Any]]
    run: Callable[[Any, str], Any]
    uses_backend: bool = False  # True where OpenCV vs Pillow/numpy changes the code that runs


# ---------------------------------------------------------------- synthetic inputs (deterministic)


def synthetic_photo(height: int, width: int, seed: int) -> np.ndarray:
    """A photo-like RGB uint8 image: smooth gradients, a few hard edges and sensor-like noise.

    Pure noise would make JPEG/PNG codecs unrealistically slow; flat images unrealistically fast.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        fy, fx, phase = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 6.28)
        base = 128 + 80 * np.sin(fy * 6.28 * yy / height + phase) * np.cos(fx * 6.28 * xx / width)
        channels.append(base)
    image = np.stack(channels, axis=-1)
    for _ in range(6):  # rectangles give edges, as objects do
        y0, x0 = rng.integers(0, height - 8), rng.integers(0, width - 8)
        y1, x1 = y0 + rng.integers(8, height // 3), x0 + rng.integers(8, width // 3)
        image[y0:y1, x0:x1] += rng.uniform(-60, 60, size=3)
    image += rng.normal(0, 6, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def encode(image: np.ndarray, fmt: str) -> bytes:
    """Encode RGB pixels with Pillow (available on every interpreter)."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    else:
        Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


# ---------------------------------------------------------------- kernels


def python_mean_abs_diff(a: Sequence[int], b: Sequence[int]) -> float:
    """Per-pixel Python loop: every step runs bytecode, so the thread running it holds the GIL."""
    total = 0
    for x, y in zip(a, b):
        total += x - y if x > y else y - x
    return total / len(a)


def _build_pure_python(workload: Workload) -> list[tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]]:
    thumbs = _thumbs(workload.seed, 24)
    flat = tuple(tuple(t.ravel().tolist()) for t in thumbs)
    return [(flat[i % len(flat)], flat) for i in range(workload.tasks)]


def _run_pure_python(item: tuple[tuple[int, ...], tuple[tuple[int, ...], ...]], backend: str) -> tuple[float, ...]:
    one, many = item
    return tuple(round(python_mean_abs_diff(one, other), 6) for other in many)


def decode_bytes(data: bytes, backend: str) -> np.ndarray:
    """JPEG/PNG bytes -> (h, w, 3) uint8, BGR with OpenCV (as the detector), RGB with Pillow."""
    if backend == BACKEND_CV2:
        decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:  # OpenCV's answer to bytes it cannot decode
            raise ValueError("OpenCV could not decode the image bytes")
        return decoded
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


@lru_cache(maxsize=4)
def _photos(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two 0.8 MP photos, built once per process: calibration and the timed workload share them."""
    return synthetic_photo(768, 1024, seed), synthetic_photo(768, 1024, seed + 1)


@lru_cache(maxsize=4)
def _encoded_photos(seed: int) -> tuple[bytes, bytes]:
    first, second = _photos(seed)
    return encode(first, "JPEG"), encode(second, "PNG")


def _build_decode(workload: Workload) -> list[bytes]:
    photos = _encoded_photos(workload.seed)
    return [photos[i % 2] for i in range(workload.tasks)]


def _run_decode(data: bytes, backend: str) -> tuple[int, int, int]:
    pixels = decode_bytes(data, backend)
    return pixels.shape[0], pixels.shape[1], int(pixels.sum(dtype=np.int64))


def gray_thumbnail(image: np.ndarray, size: int, backend: str) -> np.ndarray:
    """Area-averaged grayscale (size, size) thumbnail, as the detector's ``features.thumbnail``."""
    if backend == BACKEND_CV2:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)
    gray_image = Image.fromarray(image).convert("L")
    return np.asarray(gray_image.resize((size, size), Image.Resampling.BOX))


RESIZE_IMAGES_PER_TASK = 4  # one OpenCV resize is ~0.5 ms: too short to time against pool dispatch alone


def _build_resize(workload: Workload) -> list[tuple[np.ndarray, ...]]:
    photos = _photos(workload.seed)
    return [tuple(photos[(i + k) % 2] for k in range(RESIZE_IMAGES_PER_TASK)) for i in range(workload.tasks)]


def _run_resize(images: tuple[np.ndarray, ...], backend: str) -> tuple[int, ...]:
    thumbs = [gray_thumbnail(image, THUMB_SIZE, backend) for image in images]
    return tuple(int(t.sum(dtype=np.int64)) for t in thumbs)


@lru_cache(maxsize=4)
def _thumbs(seed: int, count: int) -> np.ndarray:
    """(count, 64, 64) uint8 thumbnails of related synthetic photos (pairs share structure)."""
    rng = np.random.default_rng(seed)
    base = synthetic_photo(THUMB_SIZE * 2, THUMB_SIZE * 2, seed)[::2, ::2].mean(axis=-1)
    thumbs = base[None] + rng.normal(0, 25, size=(count, THUMB_SIZE, THUMB_SIZE))
    return np.clip(thumbs, 0, 255).astype(np.uint8)


def _build_ssim(workload: Workload) -> list[tuple[SsimTerms, SsimTerms]]:
    terms = ssim_terms(_thumbs(workload.seed, 64), use_cv2=workload.backend == BACKEND_CV2)
    return [(terms.take(slice(i % 64, i % 64 + 1)), terms) for i in range(workload.tasks)]


def _run_ssim(item: tuple[SsimTerms, SsimTerms], backend: str) -> tuple[float, ...]:
    one, many = item
    return tuple(np.round(ssim_one_to_many(one, many, use_cv2=backend == BACKEND_CV2), 9).tolist())


HASH_BUFFER_BYTES = 8 * 1024 * 1024


@lru_cache(maxsize=2)
def _hash_buffers(seed: int) -> tuple[bytes, bytes]:
    rng = np.random.default_rng(seed)
    return rng.bytes(HASH_BUFFER_BYTES), rng.bytes(HASH_BUFFER_BYTES)


def _build_hash(workload: Workload) -> list[bytes]:
    buffers = _hash_buffers(workload.seed)
    return [buffers[i % 2] for i in range(workload.tasks)]


def _run_hash(data: bytes, backend: str) -> str:
    # hashlib releases the GIL for buffers over 2 KB; the detector's file digest is this call.
    return hashlib.blake2b(data, digest_size=16).hexdigest()


IO_FILE_BYTES = 256 * 1024


def write_io_files(directory: Path, count: int, seed: int = 7) -> None:
    """Files for the I/O kernel, written before any timing starts."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (directory / f"file-{i:03d}.bin").write_bytes(rng.bytes(IO_FILE_BYTES))


def _build_io(workload: Workload) -> list[str]:
    if workload.data_dir is None:
        raise ValueError("the io kernel needs Workload.data_dir (see write_io_files)")
    return [os.path.join(workload.data_dir, f"file-{i:03d}.bin") for i in range(workload.tasks)]


def _run_io(path: str, backend: str) -> tuple[int, int]:
    # Labelled simulation: a slow (network) disk. The sleep waits without the GIL, as a real read does.
    time.sleep(SIMULATED_DISK_LATENCY_S)
    with open(path, "rb") as handle:
        data = handle.read()
    return len(data), data[0]


KERNELS: dict[str, KernelSpec] = {
    spec.name: spec
    for spec in (
        KernelSpec("pure_python", "compare (pure Python)", "per-pixel Python loop, 64x64 thumbnails", "holds", 16, _build_pure_python, _run_pure_python),
        KernelSpec("decode", "decode", "decode 0.8 MP JPEG/PNG bytes", "releases", 16, _build_decode, _run_decode, uses_backend=True),
        KernelSpec("resize", "thumbnail", "grayscale + area resize 4 x 0.8 MP -> 64x64", "releases", 24, _build_resize, _run_resize, uses_backend=True),
        KernelSpec("ssim", "compare (batched SSIM)", "batched SSIM, 1 thumbnail vs 64", "releases", 48, _build_ssim, _run_ssim, uses_backend=True),
        KernelSpec("hash", "exact digest", "blake2b of an 8 MB buffer", "releases", 16, _build_hash, _run_hash),
        KernelSpec(
            "io_wait", "read", f"read 256 KB file + {SIMULATED_DISK_LATENCY_S * 1000:.0f} ms simulated disk latency (sleep)", "waits", 20, _build_io, _run_io
        ),
    )
}


@cache
def prepared_inputs(workload: Workload) -> Sequence[Any]:
    """Inputs of a workload, built once per process and then shared by all its tasks (and threads)."""
    return KERNELS[workload.kernel].build(workload)


def run_task(workload: Workload, index: int) -> Any:
    """One unit of work: module-level so a process pool can pickle it by reference."""
    spec = KERNELS[workload.kernel]
    return spec.run(prepared_inputs(workload)[index], workload.backend)


def limit_library_threads() -> dict[str, Any]:
    """One thread per worker inside OpenCV/BLAS, so 'serial' really uses one core; returns what was set.

    cv2 defaults to a thread per core and would make a 'serial' resize use both cores.
    """
    applied: dict[str, Any] = {}
    if HAVE_CV2:
        cv2.setNumThreads(1)
        applied["cv2_threads"] = cv2.getNumThreads()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        applied["blas_threads"] = "threadpoolctl not installed"
    else:
        threadpool_limits(1)
        applied["blas_threads"] = 1
    return applied


def worker_initializer(workloads: tuple[Workload, ...]) -> None:
    """Process-pool initializer: same thread limits as the parent, inputs built before any task is timed."""
    limit_library_threads()
    for workload in workloads:
        prepared_inputs(workload)
