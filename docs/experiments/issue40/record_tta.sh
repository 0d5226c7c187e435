#!/bin/bash
# Record evidence for checkpoints evaluated through ttanet.py's shifted views, one file a seed.
# usage: [switches] record_tta.sh OUT CLASS NET MODELS_DIR SEED...  (models: MODELS_DIR/CLASS-seedS/model.pt)
out=$1; cls=$2; net=$3; models=$4; shift 4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/ev"
for s in "$@"; do
  PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" mnist-model thresholds record \
    "$models/$cls-seed$s/model.pt" --model-class "ttanet:$net" --arithmetic-class "$cls" \
    --out "$out/tmp$s" -q
  mv "$out/tmp$s"/*.json "$out/ev/seed$s.json" && rmdir "$out/tmp$s"
done
