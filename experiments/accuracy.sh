#!/usr/bin/env bash
# Accuracy of the default detector on a generated study set, and the threshold sweep behind the default.
# Usage: bash experiments/accuracy.sh [IMAGES] [SEED]   (run from the repository root, dupbench installed)
# Writes results/accuracy/<machine>/study-n<IMAGES>-s<SEED>/: the two detector reports, the evaluation
# (JSON and text), the threshold sweep (CSV, PNG) and metadata.json (machine, versions, commit, commands).
set -euo pipefail
images="${1:-1000}"
seed="${2:-1}"
machine="$(python -c 'from dupbench.harness.metadata import machine_name; print(machine_name())')"
out="results/accuracy/${machine}/study-n${images}-s${seed}"
data="${DUPBENCH_DATASET_CACHE:-$HOME/.cache/dupbench/datasets}/accuracy-study-n${images}-s${seed}"
mkdir -p "$out"
[ -f "$data/ground_truth.json" ] || dupbench dataset make "$data" --images "$images" --seed "$seed" --profile study --quiet
dupbench run "$data" --mode process --pairs all --no-cache --output "$out/report-all.json" --quiet
dupbench run "$data" --mode process --pairs pruned --no-cache --output "$out/report-pruned.json" --quiet
dupbench evaluate "$data" "$out/report-all.json" --output "$out/evaluation-all.json" --quiet > "$out/evaluation-all.txt"
dupbench evaluate "$data" "$out/report-pruned.json" --output "$out/evaluation-pruned.json" --threshold-sweep \
  --thumb-sizes 32,64 --sweep-prefix "$out/threshold" --quiet > "$out/evaluation-pruned.txt"
python - "$out" "$images" "$seed" <<'PY'
import json, sys
from pathlib import Path
from dupbench.harness.metadata import collect_metadata
out, images, seed = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
meta = collect_metadata(Path("."))
meta["command"] = f"bash experiments/accuracy.sh {images} {seed}"
(out / "metadata.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
PY
cat "$out/evaluation-pruned.txt"
