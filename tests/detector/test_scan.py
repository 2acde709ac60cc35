import os
import socket

from dupbench.config import IMAGE_EXTENSIONS
from dupbench.detector.scan import scan


def touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_recursive_case_insensitive_sorted_and_counts_others(tmp_path):
    touch(tmp_path / "b" / "Z.JPG")
    touch(tmp_path / "a.png")
    touch(tmp_path / "b" / "c.TiFf")
    touch(tmp_path / "notes.txt")
    result = scan([tmp_path], IMAGE_EXTENSIONS)
    assert result.files == [str(tmp_path / "a.png"), str(tmp_path / "b" / "Z.JPG"), str(tmp_path / "b" / "c.TiFf")]
    assert result.ignored_other_extensions == 1
    assert result.skipped == []


def test_paths_keep_the_roots_form(tmp_path, monkeypatch):
    touch(tmp_path / "d" / "x.png")
    monkeypatch.chdir(tmp_path)
    assert scan(["d"], IMAGE_EXTENSIONS).files == [os.path.join("d", "x.png")]


def test_directory_symlinks_not_followed_by_default_and_loops_end(tmp_path):
    touch(tmp_path / "real" / "x.png")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "loop").symlink_to(tmp_path)
    plain = scan([tmp_path], IMAGE_EXTENSIONS)
    assert plain.files == [str(tmp_path / "real" / "x.png")]
    assert {s.reason for s in plain.skipped} == {"directory symlink not followed"}
    followed = scan([tmp_path], IMAGE_EXTENSIONS, follow_symlinks=True)
    assert len(followed.files) == 1  # each directory once, however many ways lead to it


def test_broken_symlink_fifo_socket_and_directory_named_like_an_image(tmp_path):
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock.png"))
    (tmp_path / "folder.jpg").mkdir()
    touch(tmp_path / "folder.jpg" / "inner.png")
    result = scan([tmp_path], IMAGE_EXTENSIONS)
    sock.close()
    assert result.files == [str(tmp_path / "folder.jpg" / "inner.png")]
    reasons = {os.path.basename(s.path): s.reason for s in result.skipped}
    assert reasons["gone.jpg"] == "broken symlink or symlink loop"
    assert reasons["pipe.jpg"].startswith("not a regular file")
    assert reasons["sock.png"].startswith("not a regular file")


def test_missing_root_is_reported_and_file_root_is_used(tmp_path):
    image = touch(tmp_path / "one.webp")
    result = scan([tmp_path / "nope", image], IMAGE_EXTENSIONS)
    assert result.files == [str(image)]
    assert [s.reason for s in result.skipped] == ["no such file or directory"]


def test_unreadable_directory_is_reported(tmp_path, monkeypatch):
    touch(tmp_path / "locked" / "x.png")
    real_scandir = os.scandir

    def scandir(path):  # root reads any directory, so permission errors are simulated
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = scan([tmp_path], IMAGE_EXTENSIONS)
    assert result.files == []
    assert [(s.path, s.reason) for s in result.skipped] == [(str(tmp_path / "locked"), "unreadable directory: Permission denied")]


def test_excluded_folders_are_never_scanned_whatever_path_reaches_them(tmp_path):
    touch(tmp_path / "a.jpg")
    touch(tmp_path / "dupes" / "a.jpg")
    touch(tmp_path / "dupes" / "deep" / "b.png")
    (tmp_path / "alias").symlink_to(tmp_path / "dupes", target_is_directory=True)
    result = scan([tmp_path, tmp_path / "alias"], IMAGE_EXTENSIONS, follow_symlinks=True, exclude={str(tmp_path / "dupes"): "the --to folder"})
    assert result.files == [str(tmp_path / "a.jpg")]
    assert [s.reason for s in result.skipped] == ["the --to folder"]  # said once: each folder is entered once


def test_filters_leave_out_globs_sizes_and_are_counted(tmp_path):
    from dupbench.detector.scan import ScanFilters

    for rel, size in [
        ("a.jpg", 10),
        ("big.jpg", 5000),
        ("tiny.png", 1),
        (".thumbnails/t.jpg", 10),
        ("sub/b_small.jpg", 10),
        ("sub/c.ppm", 10),
        ("notes.txt", 10),
    ]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    filters = ScanFilters(exclude=(".thumbnails", "*_small.jpg"), min_size=2, max_size=1000)
    found = scan([str(tmp_path)], IMAGE_EXTENSIONS, filters=filters)
    assert sorted(os.path.relpath(p, tmp_path) for p in found.files) == ["a.jpg", "sub/c.ppm"]
    assert (found.ignored_excluded, found.ignored_size, found.ignored_other_extensions) == (1, 2, 1)


def test_the_command_line_filters_reach_the_scan_and_are_printed(tmp_path):
    import subprocess
    import sys

    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "x.jpg").write_bytes(b"not really")
    (tmp_path / "skip.jpg").write_bytes(b"not really")
    (tmp_path / "y.png").write_bytes(b"not really")
    done = subprocess.run(
        [sys.executable, "-m", "dupbench", "run", str(tmp_path), "--mode", "serial", "--no-cache", "--exclude", "skip.jpg", "--extensions", "jpg"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "files left out: 1 for their extension (--extensions); 1 by --exclude" in done.stdout
