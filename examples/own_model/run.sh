#!/usr/bin/env bash
# Gate your own model, end to end, with nothing of this project's network:
#   1. train SmallNet (net.py, yours) on several seeds and save each state_dict;
#   2. `mnist-model thresholds record` them: every figure the gate judges, per model;
#   3. `mnist-model thresholds derive` floors from that evidence, with your promises;
#   4. `mnist-model gate` a held-out seed of the same recipe against them: it passes;
#   5. `mnist-model gate` a deliberately weakened model: it fails (exit 1).
# Run it from anywhere: bash examples/own_model/run.sh. Sizes: SEEDS models for the
# evidence (5 at least), EPOCHS each, WORK the folder it writes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

PYTHON="${PYTHON:-python}"
SEEDS="${SEEDS:-5}"
EPOCHS="${EPOCHS:-1}"
WORK="${WORK:-work}"
mm() { "$PYTHON" -m mnist_model "$@"; }

mm data  # MNIST into mnist-model's folder, which torchvision.datasets.MNIST reads too
DATA="$("$PYTHON" -c 'from mnist_model.data import resolve_data_root; print(resolve_data_root(None))')"

for seed in $(seq 0 "$SEEDS"); do  # seeds 0..SEEDS-1 for the evidence, SEEDS held out
    "$PYTHON" train.py --seed "$seed" --epochs "$EPOCHS" --data-dir "$DATA" \
        --out "$WORK/models/seed$seed.pt"
done
"$PYTHON" train.py --seed "$SEEDS" --epochs "$EPOCHS" --data-dir "$DATA" --weaken 7 \
    --out "$WORK/weakened.pt"

# SmallNet is a state_dict of your class, trained on ToTensor() pixels in [0, 1].
read=(--model-class net:SmallNet --input-scale unit)
evidence=()
for seed in $(seq 0 $((SEEDS - 1))); do evidence+=("$WORK/models/seed$seed.pt"); done
mm thresholds record "${evidence[@]}" "${read[@]}" --out "$WORK/evidence"
mm thresholds derive "$WORK/evidence" --out "$WORK/thresholds.json" \
    --promise accuracy=0.96 --promise digit_accuracy=0.92 --promise max_params=10000

echo "== the held-out seed $SEEDS: must pass"
mm gate --checkpoint "$WORK/models/seed$SEEDS.pt" "${read[@]}" --thresholds "$WORK/thresholds.json"

echo "== the weakened model: must fail"
status=0
mm gate --checkpoint "$WORK/weakened.pt" "${read[@]}" --thresholds "$WORK/thresholds.json" || status=$?
if [ "$status" -ne 1 ]; then
    echo "own_model: the weakened model was not failed (exit $status)" >&2
    exit 1
fi
echo "own_model: the held-out seed passed and the weakened model failed, as they should"
