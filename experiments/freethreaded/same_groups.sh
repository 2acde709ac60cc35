#!/usr/bin/env bash
# The detector under the free-threaded build (Pillow/numpy path, GIL off), serial and in threads, against
# the normal build (OpenCV path, serial), on one dataset: are the duplicate groups the same?
# Usage: experiments/freethreaded/same_groups.sh DATASET [NORMAL_PYTHON] [FREE_THREADED_PYTHON]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(cd "$here/../.." && pwd)"
dataset="$1"
normal="${2:-$project/.venv/bin/python}"
free="${3:-$here/.build/ft/venv/bin/python}"
out="$(mktemp -d)"
run() {  # PYTHON MODE NAME
    PYTHONPATH="$project" "$1" -m dupbench run "$dataset" --mode "$2" --workers 2 --pairs all --no-cache --quiet --output "$out/$3.json"
}
run "$free" serial ft-serial
run "$free" thread ft-thread
run "$normal" serial normal-serial
echo "# command: experiments/freethreaded/same_groups.sh $* (commit $(git -C "$project" rev-parse --short HEAD)$(git -C "$project" diff --quiet HEAD -- dupbench || echo ', dirty'))"
"$normal" - "$out" <<'PY'
import json, sys
from pathlib import Path

def load(name):
    report = json.loads((Path(sys.argv[1]) / f"{name}.json").read_text())
    groups = {frozenset([g["keeper"], *(m["path"] for m in g["members"])]) for g in report["groups"]}
    ssim = {m["path"]: m["ssim"] for g in report["groups"] for m in g["members"]}
    return report, groups, ssim

ft, ft_groups, ft_ssim = load("ft-serial")
_, thread_groups, _ = load("ft-thread")
normal, normal_groups, normal_ssim = load("normal-serial")
for name, report in (("free-threaded", ft), ("normal", normal)):
    interpreter = report["settings"]["execution"]["interpreter"]
    print(f"{name}: decoder {report['settings'].get('decoder_used', report['settings']['decoder'])}, "
          f"free-threaded build {interpreter['free_threaded_build']}, GIL enabled {interpreter['gil_enabled']}, "
          f"{report['counts']['images']} images, {len(report['groups'])} groups")
print(f"free-threaded thread mode == free-threaded serial: {thread_groups == ft_groups}")
print(f"free-threaded (Pillow) == normal (OpenCV): {ft_groups == normal_groups} "
      f"({len(ft_groups ^ normal_groups)} groups differ)")
shared = [p for p in ft_ssim if p in normal_ssim]
print(f"largest SSIM difference over {len(shared)} members in both: {max(abs(ft_ssim[p] - normal_ssim[p]) for p in shared):.4f}")
PY
rm -r "$out"
