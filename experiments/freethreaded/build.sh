#!/usr/bin/env bash
# Build CPython 3.13 from Debian's own source package twice with the same configure flags, once with the
# GIL and once free-threaded ("3.13t", --disable-gil), each into its own prefix with a venv holding
# dupbench, so the interpreter comparison changes one thing only (issue 18). Both venvs get the same
# packages and no OpenCV (there is no free-threaded OpenCV wheel): run both with --decoder pillow.
#
# The system's apt set-up is left untouched: the deb-src line lives in a private sources list and the
# package lists in a private directory (-o Dir::Etc::SourceList / Dir::State::Lists).
#
# Usage: experiments/freethreaded/build.sh [PREFIX_ROOT]
#   PREFIX_ROOT defaults to $DUPBENCH_FT_ROOT, else experiments/freethreaded/.build
#   Result, per variant (ft, gil): PREFIX_ROOT/<variant>/prefix/bin/python3.13[t] and the venv
#   PREFIX_ROOT/<variant>/venv (e.g. dupbench gil --python PREFIX_ROOT/gil/venv/bin/python --python PREFIX_ROOT/ft/venv/bin/python)
# Environment: PY_SOURCE_VERSION (default 3.13.15-1; empty = whatever the suite has),
#   DEBIAN_SUITE (default unstable), DEBIAN_MIRROR (default http://deb.debian.org/debian), JOBS (default nproc),
#   VARIANTS (default "ft gil"), CONFIGURE_FLAGS (added to both builds alike, default none; e.g.
#   "--enable-optimizations --with-lto" where the machine has the time).
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
apt_dir="$root/apt"
src_dir="$root/src"
log="$root/build.log"
tree="$src_dir/cpython"
common_flags=(--with-ensurepip=no ${CONFIGURE_FLAGS:-})

step() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
start=$(date +%s)

if [ ! -d "$tree" ]; then
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

fi

build_variant() {
    local variant="$1" flags=("${common_flags[@]}")
    [ "$variant" = ft ] && flags+=(--disable-gil)
    local prefix="$root/$variant/prefix" venv="$root/$variant/venv" obj="$root/$variant/obj"
    local python="$prefix/bin/python3.13$([ "$variant" = ft ] && echo t)"
    if [ ! -e "$prefix/.dupbench-built" ]; then
        step "$variant: configuring with ${flags[*]} (log: $log)"
        mkdir -p "$obj"
        (cd "$obj" && "$tree/configure" --prefix="$prefix" "${flags[@]}" >>"$log" 2>&1)
        step "$variant: building with make -j$jobs (about 5 minutes on 2 cores without optimizations)"
        make -C "$obj" -j"$jobs" >>"$log" 2>&1
        # Debian's ensurepip refuses to run outside a virtual environment, so pip is seeded by the venv below.
        make -C "$obj" install >>"$log" 2>&1
        touch "$prefix/.dupbench-built"
        step "$variant: interpreter built in $(( $(date +%s) - start )) s"
    else
        step "$variant: interpreter already built: $python"
    fi
    local expect=0
    [ "$variant" = ft ] && expect=1
    "$python" -c "import sys, sysconfig; assert (sysconfig.get_config_var('Py_GIL_DISABLED') or 0) == $expect, 'wrong build'; print(sys.version)"
    step "$variant: creating venv $venv"
    "$python" -m venv "$venv"
    # Debian's site.py patch adds lib/python3.13/site-packages to a venv's path, but a free-threaded venv
    # installs into lib/python3.13t/site-packages: link the two so installed packages are importable.
    if [ "$variant" = ft ] && [ ! -e "$venv/lib/python3.13" ]; then ln -s python3.13t "$venv/lib/python3.13"; fi
    "$venv/bin/python" -c 'import pip' 2>/dev/null || "$venv/bin/python" -m ensurepip --upgrade --default-pip >>"$log" 2>&1
    "$venv/bin/python" -m pip install --quiet --upgrade pip >>"$log" 2>&1
    # The same wheels in both (--only-binary: no source builds); no OpenCV in either (none is free-threaded).
    "$venv/bin/python" -m pip install --quiet --only-binary=:all: \
        numpy scipy scikit-image pillow psutil matplotlib pandas tqdm threadpoolctl pytest >>"$log" 2>&1
    # --no-deps: pyproject's opencv dependency has no free-threaded wheel.
    "$venv/bin/python" -m pip install --quiet --no-deps -e "$project" >>"$log" 2>&1
    "$venv/bin/python" -c 'import sys; import dupbench; print("GIL enabled at run time:", getattr(sys, "_is_gil_enabled", lambda: True)())'
}

for variant in ${VARIANTS:-ft gil}; do
    build_variant "$variant"
done
step "done in $(( $(date +%s) - start )) s"
