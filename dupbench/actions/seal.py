"""Sealing manifests: an HMAC with a key only their owner can read, so undo acts only on a manifest
that this user's dupbench wrote, unedited.

Why: undo's content checks bind each entry to the roots and DIR its header records, but a header can
be edited too (a manifest sits in DIR, which may be a shared folder, or arrives from elsewhere): with
roots and DIR rewritten, a forged entry could put a file of the forger's choosing at a free path
anywhere the user can write. The key is 32 random bytes created on first use in
$XDG_STATE_HOME/dupbench (default ~/.local/state/dupbench), mode 0600; a manifest written by another
user, or on another machine, is refused with that reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

KEY_BYTES = 32


def key_path() -> Path:
    state_home = os.environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(state_home):  # unset, empty or relative: the XDG default
        state_home = os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state_home) / "dupbench" / "manifest-key"


def load_key(*, create: bool) -> bytes | None:
    """This user's key; created (exclusively, 0600) when `create`, else None if there is none.

    Raises OSError for a key file that is not a regular file of ours (a symlink is never followed).
    """
    path = key_path()
    if create:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(KEY_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise OSError(f"{path} is not a regular file owned by this user; not used as the manifest key")
        key = fh.read(KEY_BYTES + 1)
    if len(key) != KEY_BYTES:
        raise OSError(f"{path} does not hold a {KEY_BYTES}-byte key")
    return key


def seal(key: bytes, data: Any, context: str = "") -> str:
    """HMAC-SHA256 of `data` as canonical JSON (sorted keys, ASCII), bound to `context`."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hmac.new(key, (context + "\n" + canonical).encode("ascii"), hashlib.sha256).hexdigest()


def sealed(key: bytes, data: Any, expected: Any, context: str = "") -> bool:
    return isinstance(expected, str) and hmac.compare_digest(seal(key, data, context), expected)
