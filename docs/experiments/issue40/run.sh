#!/bin/bash
# Train one candidate recipe on seeds, two at a time (PAR), one thread each, bf16/channels_last.
# usage: [SCRIPT=distill.py] [PAR=2] run.sh NAME "0 1 2 ..." -- [train flags...]
# Runs land in $EXPLORE/NAME/sS (default EXPLORE=explore); --resume continues stopped ones.
name=$1; seeds=$2; shift 3
out=${EXPLORE:-explore}/$name; mkdir -p "$out"
echo "$@" > "$out/flags"
train=${SCRIPT:+python $SCRIPT}; train=${train:-mnist-model}
printf '%s\n' $seeds | xargs -P "${PAR:-2}" -I{} sh -c "$train train --seed {} --threads 1 \
  --precision bf16 --layout channels_last --no-progress -q --out $out/s{} $* > $out/s{}.log 2>&1"
