"""The duplicate detector, one module per stage: scan -> load (decode, features) -> compare (prefilter,
ssim, verify, align) -> cluster, with the feature cache beside them; `pipeline.find_duplicates` runs them in order."""

import os

# A second line of defence behind the header checks (load.header_size): OpenCV reads this once, when cv2
# is imported, and then refuses (cv2.error) any header above it instead of allocating. Its default is 2^30.
# Set here, before any stage module imports cv2.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(1 << 28))
# OpenCV's own log lines (a decoder's complaint about one file) would break the progress bar and the JSON on
# stderr; each skipped file is reported with its reason instead. Also set per worker (execution.native).
os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")

from dupbench.detector.pipeline import find_duplicates  # noqa: E402

__all__ = ["find_duplicates"]
