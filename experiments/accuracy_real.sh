#!/usr/bin/env bash
# Accuracy on real images: every class of `dupbench dataset real`, tune and holdout, scored for dupbench
# (--mode process, default settings) and the peers (imagededup PHash, difPy) on the same folders.
# Usage: bash experiments/accuracy_real.sh [SEED] [CLASSES] [SPLITS]   (from the repository root, dupbench
#        installed, peers' venv made once with `python benchmarks/peers.py --setup`; CLASSES e.g. "photos astro",
#        SPLITS by default "tune holdout all": `all` is both halves in one folder, where look-alikes from
#        opposite halves meet, so it counts every false merge of the whole class)
# Datasets go to ${DUPBENCH_REAL_DATA:-$HOME/.cache/dupbench/real}/<class>-<split>/ (built once, reused:
# the same seed and package versions give the same set). Writes results/accuracy/<machine>/real-<class>-<split>/:
# dupbench's report and evaluation (JSON and text), the peers' table (.md), their reports and scores
# (-reports.json), and metadata.json (machine, versions, commit, command, dataset sources).
set -euo pipefail
seed="${1:-1}"
classes="${2:-photos astro clipart diagrams flat}"
splits="${3:-tune holdout all}"
data_root="${DUPBENCH_REAL_DATA:-$HOME/.cache/dupbench/real}"
machine="$(python -c 'from dupbench.harness.metadata import machine_name; print(machine_name())')"
peers="dupbench-process,imagededup-phash,difpy-duplicates,difpy-similar"
for class in $classes; do
  for split in $splits; do
    name="real-${class}-${split}"
    data="${data_root}/${class}-${split}"
    out="results/accuracy/${machine}/${name}"
    mkdir -p "$out"
    [ -f "$data/ground_truth.json" ] || dupbench dataset real "$data" --class "$class" --split "$split" --seed "$seed"
    dupbench run "$data" --mode process --no-cache --quiet --output "$out/report.json"
    dupbench evaluate "$data" "$out/report.json" --output "$out/evaluation.json" --quiet > "$out/evaluation.txt"
    if [ "$class" = photos ]; then  # the photo sets hold turned and mirrored copies: also with --orientations 8
      dupbench run "$data" --mode process --no-cache --quiet --orientations 8 --output "$out/report-o8.json"
      dupbench evaluate "$data" "$out/report-o8.json" --output "$out/evaluation-o8.json" --quiet > "$out/evaluation-o8.txt"
    fi
    python benchmarks/peers.py "$data" --repeats 1 --tools "$peers" --out results/accuracy --name "$name" > "$out/peers.log"
    python - "$out" "$data" "$seed" "$class" "$split" <<'PY'
import json, sys
from pathlib import Path
from dupbench.harness.metadata import collect_metadata
out, data, seed, cls, split = Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:]
truth = json.loads((data / "ground_truth.json").read_text())
meta = collect_metadata(Path("."))
meta["command"] = f"bash experiments/accuracy_real.sh {seed} (class {cls}, split {split})"
meta["dataset"] = {"path": str(data), "profile": truth["profile"], "n_images": truth["n_images"], "seed": truth["seed"],
                   "sources": truth["sources"], "settings": truth["settings"],
                   "build_command": f"dupbench dataset real {data} --class {cls} --split {split} --seed {seed}"}
(out / "metadata.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
PY
    echo "== ${name}"; sed -n 1,12p "$out/evaluation.txt"; grep '^|' "$(ls -t "$out"/*-*.md | head -1)" || true
  done
done
