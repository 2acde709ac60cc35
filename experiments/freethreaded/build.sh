#!/usr/bin/env bash
# Build a free-threaded CPython 3.13 ("3.13t", ./configure --disable-gil) from Debian's own source
# package into a local prefix, make a venv with it, and install dupbench's free-threaded wheels.
#
# The system's apt set-up is left untouched: the deb-src line lives in a private sources list and the
# package lists in a private directory (-o Dir::Etc::SourceList / Dir::State::Lists).
#
# Usage: experiments/freethreaded/build.sh [PREFIX_ROOT]
#   PREFIX_ROOT defaults to $DUPBENCH_FT_ROOT, else experiments/freethreaded/.build
#   Result: PREFIX_ROOT/prefix/bin/python3.13t and the venv PREFIX_ROOT/venv (run PREFIX_ROOT/venv/bin/dupbench gil)
# Environment: PY_SOURCE_VERSION (default 3.13.15-1; empty = whatever the suite has),
#   DEBIAN_SUITE (default unstable), DEBIAN_MIRROR (default http://deb.debian.org/debian), JOBS (default nproc).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(cd "$here/../.." && pwd)"
root="${1:-${DUPBENCH_FT_ROOT:-$here/.build}}"
mkdir -p "$root"
root="$(cd "$root" && pwd)"
suite="${DEBIAN_SUITE:-unstable}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
version="${PY_SOURCE_VERSION-3.13.15-1}"
jobs="${JOBS:-$(nproc)}"
prefix="$root/prefix"
venv="$root/venv"
apt_dir="$root/apt"
src_dir="$root/src"
log="$root/build.log"

step() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
start=$(date +%s)

if [ ! -e "$prefix/.dupbench-built" ]; then
    step "fetching Debian's python3.13 source package ($suite${version:+, $version}) with a private apt state in $apt_dir"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts" "$src_dir"
    printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
        "$mirror" "$suite" > "$apt_dir/sources.list"
    apt_opts=(
        -o "Dir::Etc::SourceList=$apt_dir/sources.list"
        -o "Dir::Etc::SourceParts=$apt_dir/parts"
        -o "Dir::State::Lists=$apt_dir/lists"
        -o "Dir::Cache=$apt_dir/cache"
        -o "APT::Sandbox::User=root"
    )
    apt-get "${apt_opts[@]}" update >>"$log" 2>&1
    pkg="python3.13${version:+=$version}"
    (cd "$src_dir" && apt-get "${apt_opts[@]}" source --download-only "$pkg" >>"$log" 2>&1)
    dsc="$(ls "$src_dir"/python3.13_*.dsc | tail -1)"
    tree="$src_dir/cpython"
    rm -rf "$tree"
    # Unpack with Debian's patches applied (dpkg-source), as the Debian interpreter is built.
    dpkg-source -x "$dsc" "$tree" >>"$log" 2>&1

    step "configuring with --disable-gil (log: $log)"
    mkdir -p "$root/obj"
    (cd "$root/obj" && "$tree/configure" --disable-gil --prefix="$prefix" --with-ensurepip=no >>"$log" 2>&1)
    step "building with make -j$jobs (about 5 minutes on 2 cores)"
    make -C "$root/obj" -j"$jobs" >>"$log" 2>&1
    # Debian's ensurepip refuses to run outside a virtual environment, so pip is seeded by the venv below.
    make -C "$root/obj" install >>"$log" 2>&1
    touch "$prefix/.dupbench-built"
    step "interpreter built in $(( $(date +%s) - start )) s"
else
    step "interpreter already built: $prefix/bin/python3.13t"
fi

python="$prefix/bin/python3.13t"
"$python" -c 'import sys, sysconfig; assert sysconfig.get_config_var("Py_GIL_DISABLED") == 1, "not a free-threaded build"; print(sys.version)'

step "creating venv $venv and installing free-threaded wheels"
"$python" -m venv "$venv"
# Debian's site.py patch adds lib/python3.13/site-packages to a venv's path, but a free-threaded venv
# installs into lib/python3.13t/site-packages: link the two so installed packages are importable.
[ -e "$venv/lib/python3.13" ] || ln -s python3.13t "$venv/lib/python3.13"
"$venv/bin/python" -c 'import pip' 2>/dev/null || "$venv/bin/python" -m ensurepip --upgrade --default-pip >>"$log" 2>&1
"$venv/bin/python" -m pip install --quiet --upgrade pip >>"$log" 2>&1
# --only-binary: no source builds (there is no cp313t OpenCV wheel; dupbench falls back to Pillow/numpy).
"$venv/bin/python" -m pip install --quiet --only-binary=:all: \
    numpy scipy scikit-image pillow psutil matplotlib pandas tqdm threadpoolctl pytest >>"$log" 2>&1
# --no-deps: pyproject's opencv dependency has no free-threaded wheel.
"$venv/bin/python" -m pip install --quiet --no-deps -e "$project" >>"$log" 2>&1

"$venv/bin/python" -c 'import sys; import dupbench; print("GIL enabled at run time:", sys._is_gil_enabled())'
step "done in $(( $(date +%s) - start )) s: $venv/bin/python"
