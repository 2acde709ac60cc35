"""A report as a flat table, one row per file of each group: what `--csv` writes and the review page lists."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

from dupbench.result import DuplicateReport

CSV_COLUMNS = ("group", "kind", "role", "path", "match", "ssim", "same_as", "width", "height", "size_bytes", "digest")


def file_rows(report: DuplicateReport) -> Iterator[dict[str, object]]:
    """The keeper, then each member, of every group; size, resolution and digest blank where the report has none."""
    for index, group in enumerate(report.groups):
        entries = [(group.keeper, "keeper", "", "", "")] + [(m.path, "member", m.match, f"{m.ssim:.4f}", m.same_as or "") for m in group.members]
        for path, role, match, ssim, same_as in entries:
            info = report.files.get(path)
            yield {
                "group": index,
                "kind": group.kind,
                "role": role,
                "path": path,
                "match": match,
                "ssim": ssim,
                "same_as": same_as,
                "width": info.width if info else "",
                "height": info.height if info else "",
                "size_bytes": info.size if info else "",
                "digest": info.digest if info else "",
            }


def write_csv(report: DuplicateReport, path: Path) -> None:
    """Write the table atomically (a temporary file, then rename); file names that are not UTF-8 keep their bytes."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(file_rows(report))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        # surrogateescape writes a non-UTF-8 name back as the bytes the file system gave us
        tmp.write_bytes(buffer.getvalue().encode("utf-8", "surrogateescape"))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def human_bytes(size: int) -> str:
    """1,234,567 -> '1.2 MB' (decimal units, as file managers show them)."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"
