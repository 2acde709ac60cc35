"""Write the review page: index.html (data, style and script inline) and thumbs/*.jpg beside it.

Every string taken from a file name reaches the page only as JSON inside
<script type="application/json">, with <, > and & escaped, and the script puts it into the DOM with
textContent and setAttribute: a file named `<img onerror=...>` shows as text and runs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from dupbench.config import available_cpus
from dupbench.result import DuplicateReport, load_report
from dupbench.review.files import FileView, view_file

PAGE_FORMAT = "dupbench-review"
PAGE_VERSION = 1
MARKER = ".dupbench-review"  # marks a folder this command wrote, which it may write again
THUMBS = "thumbs"
THUMB_NAME = re.compile(r"\d+\.jpg")


class ReviewError(Exception):
    """A reason the page cannot be written (exit 2); nothing was written."""


@dataclass(frozen=True)
class ReviewResult:
    index: Path
    groups: int
    files: int
    thumbnails: int
    problems: tuple[tuple[str, str], ...]  # (path, what is wrong), for files shown without a thumbnail
    inside_root: str | None = None  # a scanned root holding the page, whose next run would find the thumbnails


def report_fingerprint(path: Path) -> dict[str, str]:
    """Where the report is and its SHA-256: `dupbench apply` checks a plan against this very report."""
    return {"path": os.path.abspath(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}


def check_out_dir(out: Path) -> None:
    """Refuse a folder that holds anything this command did not write: nothing a user owns is overwritten."""
    if out.exists() and not out.is_dir():
        raise ReviewError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ReviewError(f"{out} is not empty and was not written by dupbench review; choose another --out")


def file_entry(report: DuplicateReport, view: FileView, role: str, member: Any | None) -> dict[str, Any]:
    """One file as the page's script reads it; the digest is the scan's, so `apply` re-checks against the run."""
    scanned = report.files.get(view.path)
    problems = [view.problem] if view.problem else []
    if scanned and view.digest and scanned.digest != view.digest:
        problems.insert(0, "changed since the scan: apply will leave it alone")
    return {
        "path": view.path,
        "name": os.path.basename(view.path),
        "folder": os.path.dirname(view.path),
        "role": role,
        "match": None if member is None else member.match,
        "ssim": None if member is None else round(member.ssim, 4),
        "same_as": None if member is None else member.same_as,
        "width": scanned.width if scanned else view.width,
        "height": scanned.height if scanned else view.height,
        "size": scanned.size if scanned else view.size,
        "format": view.format,
        "mtime": view.mtime,
        "digest": scanned.digest if scanned else view.digest,
        "thumb": view.thumb,
        "uri": Path(os.path.abspath(view.path)).as_uri(),
        "problem": "; ".join(problems) or None,
    }


def page_data(report: DuplicateReport, views: dict[str, FileView], fingerprint: dict[str, str]) -> dict[str, Any]:
    groups = []
    for index, group in enumerate(report.groups):
        files = [file_entry(report, views[group.keeper], "keeper", None)]
        files += [file_entry(report, views[m.path], "member", m) for m in group.members]
        groups.append(
            {
                "index": index,
                "kind": group.kind,
                "keeper": group.keeper,
                "score": round(min((m.ssim for m in group.members), default=1.0), 4),
                "saved": sum(f["size"] or 0 for f in files[1:]),
                "files": files,
            }
        )
    return {
        "format": PAGE_FORMAT,
        "version": PAGE_VERSION,
        "report": fingerprint,
        "roots": report.roots,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S%z"),
        "groups": groups,
    }


def script_json(data: Any) -> str:
    """JSON that cannot end its <script> element or open markup: <, > and & as \\u escapes (still valid JSON)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(data: dict[str, Any]) -> str:
    """index.html: the template with its style, data and script filled in one pass (a file name holding
    a placeholder's text is never substituted again)."""
    folder = resources.files("dupbench.review")
    parts = {
        "STYLE": folder.joinpath("page.css").read_text(encoding="utf-8"),
        "SCRIPT": folder.joinpath("page.js").read_text(encoding="utf-8"),
        "DATA": script_json(data),
    }
    template = folder.joinpath("page.html").read_text(encoding="utf-8")
    return re.sub(r"__DUPBENCH_([A-Z]+)__", lambda m: parts[m.group(1)], template)


def write_review(report_path: Path, out: Path, *, thumb_side: int = 160, workers: int | None = None) -> ReviewResult:
    """Write the page for the report at `report_path` into `out`. Raises ReviewError, or ValueError/OSError for a bad report."""
    out = Path(out)
    check_out_dir(out)
    report = load_report(report_path)
    fingerprint = report_fingerprint(report_path)
    thumbs = out / THUMBS
    thumbs.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by dupbench review; it may rewrite this folder\n", encoding="utf-8")
    for old in thumbs.iterdir():  # thumbnails of an earlier page in this folder, named by this command only
        if THUMB_NAME.fullmatch(old.name):
            old.unlink()
    paths = list(dict.fromkeys(p for g in report.groups for p in [g.keeper, *(m.path for m in g.members)]))
    # Decoding and resizing run in OpenCV with the GIL released, so threads use the cores.
    with ThreadPoolExecutor(max_workers=workers or available_cpus()) as pool:
        views = dict(zip(paths, pool.map(lambda item: view_file(item[1], thumbs / f"{item[0]}.jpg", f"{THUMBS}/{item[0]}.jpg", thumb_side), enumerate(paths))))
    html = render_page(page_data(report, views, fingerprint))
    index = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, index)
    problems = tuple((v.path, v.problem) for v in views.values() if v.problem)
    inside = next((r for r in report.roots if Path(os.path.abspath(out)).is_relative_to(os.path.abspath(r))), None)
    return ReviewResult(index, len(report.groups), len(paths), sum(v.thumb is not None for v in views.values()), problems, inside)
