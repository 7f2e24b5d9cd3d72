#!/usr/bin/env bash
# The main job on a fresh Debian 12: install what is missing, build, train the Fashion-MNIST
# quick-start SiT on the CPU (about 9 minutes of training on 2 cores), then write
# results/quickstart/samples.png (one row per class) and samples.npz (1,000 class-balanced
# samples in the ADM evaluation format) next to the checkpoint.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/results/quickstart"
"$root/cmake/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIT_BUILD_TESTS=OFF
cmake --build "$root/build" -j"$(nproc)" --target sit-train sit-sample

# A 1.9M-parameter SiT (patch 4 on 28x28: 49 tokens), AdamW at 1e-3 with warm-up and cosine
# decay, and a short-horizon EMA (0.995) that a 900-step run can use.
"$root/build/examples/sit-train/sit-train" \
  --model '' --patch-size 4 --depth 6 --hidden-size 128 --num-heads 4 \
  --global-batch-size 64 --max-steps 900 --lr 1e-3 --lr-schedule cosine --warmup-steps 100 \
  --min-lr 1e-5 --ema-decay 0.995 --log-every 50 --ckpt-every 300 --sample-every 300 \
  --sample-steps 25 --sample-method euler --cfg-scale 2 --results-dir "$out"

ckpt="$out/checkpoints/0000900.pt"
sample=("$root/build/examples/sit-sample/sit-sample" ODE --ckpt "$ckpt"
        --sampling-method euler --num-sampling-steps 25 --cfg-scale 2)
# One row per class: 10 samples of each of the 10 classes.
"${sample[@]}" --class-labels "$(seq -s, 0 9 | sed 's/[0-9]\+/&,&,&,&,&,&,&,&,&,&/g')" \
  --seed 0 --nrow 10 --out "$out/samples.png"
"${sample[@]}" --num-samples 1000 --batch-size 100 --seed 1 --out '' --out-npz "$out/samples.npz"
echo "quick start done: $out/samples.png, $out/samples.npz, $ckpt"
