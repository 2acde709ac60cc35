#!/usr/bin/env bash
# Every result the report uses, from one commit, by one command; then the report itself.
#
# Usage (from the repository root, dupbench installed as the README says, on a clean checkout):
#   bash experiments/run_all.sh              # every step below, in order
#   STEPS="seed interpreters" bash experiments/run_all.sh   # a subset, by step name
#
# Steps (name: what it runs -> where it writes):
#   pythons       experiments/freethreaded/build.sh (skipped where both venvs exist) -> $DUPBENCH_FT_ROOT
#   seed          dupbench sweep experiments/seed_study.toml          -> results/<machine>/
#   interpreters  dupbench sweep experiments/gil_pythons.toml         -> results/<machine>/
#   scaling       dupbench sweep $SCALING (experiments/scaling.toml)  -> results/<machine>/
#   dask          dupbench sweep experiments/dask.toml                -> results/<machine>/
#   gil           dupbench gil --python (this, the 3.13 GIL build, the 3.13t build) -> results/gil/
#   accuracy      bash experiments/accuracy.sh 1000 1                 -> results/accuracy/<machine>/study-n1000-s1/
#   real          bash experiments/accuracy_real.sh 1                 -> results/accuracy/<machine>/real-*/
#   limits        python benchmarks/limits.py (1,472-image set) --speedup --repeats 5 -> results/benchmarks/
#   scale         python benchmarks/scale.py $SCALE_ARGS              -> results/benchmarks/
#   peers         python benchmarks/peers.py (the 1,000-image accuracy set; real photos tune, holdout) -> results/peers/
#   report        dupbench report results/ --out report
# Each step's command, start, end and seconds are appended to results/run_all/<machine>-<commit>.md, which
# is how long the study takes on the machine it ran on.
#
# Environment: DUPBENCH_FT_ROOT (the interpreter pair; default experiments/freethreaded/.build),
#   DUPBENCH_DATASET_CACHE and DUPBENCH_REAL_DATA (where generated and real datasets are kept),
#   SCALING (default experiments/scaling.toml; experiments/scaling_full.toml is the 5,000-image grid,
#   about 90 minutes more on 2 cores), SCALE_ARGS (default: 1,000 to 1,000,000 thumbnails, all pairs to 3,000, the exact scan to 200,000),
#   ALLOW_DIRTY=1 to run on a tree with uncommitted changes (the results then say dirty),
#   DRY_RUN=1 to print each step's command and run none.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
steps="${STEPS:-pythons seed interpreters scaling dask gil accuracy real limits scale peers report}"
ft_root="${DUPBENCH_FT_ROOT:-experiments/freethreaded/.build}"
scaling="${SCALING:-experiments/scaling.toml}"
scale_args="${SCALE_ARGS:---sizes 1000,3000,10000,100000,200000,500000,1000000 --all-up-to 3000 --exact-up-to 200000}"
datasets="${DUPBENCH_DATASET_CACHE:-$HOME/.cache/dupbench/datasets}"
real="${DUPBENCH_REAL_DATA:-$HOME/.cache/dupbench/real}"
export DUPBENCH_DATASET_CACHE="$datasets" DUPBENCH_REAL_DATA="$real"

if [ -n "$(git status --porcelain --untracked-files=no -- . ':!results' ':!report')" ] && [ "${ALLOW_DIRTY:-}" != 1 ] && [ "${DRY_RUN:-}" != 1 ]; then
    echo "run_all: the tree has uncommitted changes; commit them (results must name a commit) or set ALLOW_DIRTY=1" >&2
    exit 2
fi
machine="$(python -c 'from dupbench.harness.metadata import machine_name; print(machine_name())')"
commit="$(git rev-parse --short=10 HEAD)"
log="results/run_all/${machine}-${commit}.md"
[ "${DRY_RUN:-}" = 1 ] && log=/dev/null
mkdir -p results/run_all
[ "${DRY_RUN:-}" = 1 ] || [ -f "$log" ] || printf '# experiments/run_all.sh at %s on %s\n\n| step | command | started (UTC) | seconds | exit |\n|---|---|---|---:|---:|\n' \
    "$commit" "$machine" > "$log"

step() {  # step NAME COMMAND...: run it if NAME was asked for, and log its time
    local name="$1"; shift
    case " $steps " in *" $name "*) ;; *) return 0 ;; esac
    local started; started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    local t0; t0="$(date +%s)"
    echo "== run_all: $name: $*" >&2
    [ "${DRY_RUN:-}" = 1 ] && return 0
    local rc=0
    "$@" || rc=$?
    printf '| %s | `%s` | %s | %d | %d |\n' "$name" "$*" "$started" "$(( $(date +%s) - t0 ))" "$rc" >> "$log"
    return "$rc"
}

pair_python() { echo "$ft_root/$1/venv/bin/python"; }
build_pythons() {
    if [ ! -x "$(pair_python gil)" ] || [ ! -x "$(pair_python ft)" ]; then
        DUPBENCH_FT_ROOT="$ft_root" bash experiments/freethreaded/build.sh "$ft_root"
    fi
    # The pair's venvs must run this tree's dupbench, wherever they were built from.
    for variant in gil ft; do "$(pair_python "$variant")" -m pip install --quiet --no-deps -e . ; done
}
with_pair() {  # with_pair COMMAND...: experiments/gil_pythons.toml names the pair under .build; point it at $ft_root
    if [ ! -e experiments/freethreaded/.build ] && [ "$ft_root" != experiments/freethreaded/.build ]; then
        ln -s "$(cd "$ft_root" && pwd)" experiments/freethreaded/.build
    fi
    "$@"
}
seed_set() {  # the seed study's 1,472-image set, in the folder the sweep made it in (the harness's name for it)
    local dir="$datasets/study-L800-1200-n1472-s1"
    [ -f "$dir/ground_truth.json" ] || [ "${DRY_RUN:-}" = 1 ] || dupbench dataset make "$dir" --images 1472 --seed 1 --profile study --long-side 800-1200 --quiet >&2
    echo "$dir"
}
peers() {
    local study="$datasets/accuracy-study-n1000-s1"  # experiments/accuracy.sh's set
    [ -f "$study/ground_truth.json" ] || dupbench dataset make "$study" --images 1000 --seed 1 --profile study --quiet
    python benchmarks/peers.py "$study" --repeats 3 --out results/peers
    for split in tune holdout; do
        [ -f "$real/photos-$split/ground_truth.json" ] || dupbench dataset real "$real/photos-$split" --class photos --split "$split" --seed 1
        python benchmarks/peers.py "$real/photos-$split" --repeats 3 --name "real-photos-$split-speed" --out results/peers
    done
}

step pythons build_pythons
# Bytecode written before any timing: where it is not written on import (PYTHONDONTWRITEBYTECODE, a fresh
# checkout), every measured child would compile the package from source (dupbench sweep does this too).
[ "${DRY_RUN:-}" = 1 ] || for py in "$(command -v python)" "$(pair_python gil)" "$(pair_python ft)"; do
    [ -x "$py" ] && "$py" -m compileall -q dupbench >/dev/null
done
step seed dupbench sweep experiments/seed_study.toml --out results/
step interpreters with_pair dupbench sweep experiments/gil_pythons.toml --out results/
step scaling dupbench sweep "$scaling" --out results/
step dask dupbench sweep experiments/dask.toml --out results/
step gil dupbench gil --python "$(command -v python)" --python "$(pair_python gil)" --python "$(pair_python ft)"
step accuracy bash experiments/accuracy.sh 1000 1
step real bash experiments/accuracy_real.sh 1
step limits python benchmarks/limits.py "$(seed_set)" --speedup --repeats 5 --out results/benchmarks
# shellcheck disable=SC2086
step scale python benchmarks/scale.py $scale_args --out results/benchmarks
step peers peers
step report dupbench report results/ --out report
echo "run_all: done; times in $log" >&2
