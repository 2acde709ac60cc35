import subprocess
import sys

import numpy as np

from dupbench.detector.distinct import distinct, distinct_rows


def test_distinct_gives_what_np_unique_gives():
    rng = np.random.default_rng(7)
    for values in (rng.integers(0, 50, 500), rng.integers(-3, 3, 17).astype(np.int8), np.array([], np.int64), np.array([5])):
        ours, where = distinct(values)
        theirs, inverse = np.unique(values, return_inverse=True)
        assert np.array_equal(ours, theirs) and np.array_equal(where, inverse.ravel())


def test_distinct_rows_gives_back_every_row_from_its_index():
    rng = np.random.default_rng(8)
    rows = rng.integers(0, 4, (300, 2)).astype(np.float32) * 0.5
    windows, which = distinct_rows(rows)
    assert np.array_equal(windows[which], rows)
    assert len(windows) == len(np.unique(rows, axis=0))
    assert distinct_rows(np.empty((0, 2), np.float32))[0].shape == (0, 2)


def test_a_run_does_not_import_numpy_ma(tmp_path):
    """numpy.ma costs 8 ms to import in every process; nothing in a run needs it (see distinct.py)."""
    import cv2
    from skimage import data

    for name in ("astronaut", "coffee", "chelsea"):
        image = cv2.cvtColor(getattr(data, name)(), cv2.COLOR_RGB2BGR)
        h, w = image.shape[:2]
        cv2.imwrite(str(tmp_path / f"{name}.png"), image)
        cv2.imwrite(str(tmp_path / f"{name}-q60.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 60])
        cv2.imwrite(str(tmp_path / f"{name}-crop.jpg"), image[h // 25 :, w // 25 :])  # aligned, not screened
        cv2.imwrite(str(tmp_path / f"{name}-light.png"), cv2.convertScaleAbs(image, alpha=1.0, beta=25))
    code = (
        "import sys; from dupbench.api import find_duplicates; report = find_duplicates([sys.argv[1]], mode='serial', cache=False); "
        "print(len(report.groups)); print('numpy.ma' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["3", "False"]  # every stage ran: three groups of four
