#!/usr/bin/env bash
# The main job on a fresh Debian 12: install what is missing, build, train the Fashion-MNIST
# quick-start SiT on the CPU (about 8 minutes of training on 2 cores), then write
# results/quickstart/samples.png (one row per class) and samples.npz (1,000 class-balanced
# samples in the ADM evaluation format) next to the checkpoint, and score the samples (class accuracy
# and feature FD) with the project's committed Fashion-MNIST classifier into score.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/results/quickstart"
"$root/cmake/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIT_BUILD_TESTS=OFF
cmake --build "$root/build" -j"$(nproc)" --target sit-train sit-sample sit-eval

# A 1.3M-parameter SiT (depth 4, width 128, patch 4 on 28x28: 49 tokens), AdamW at a constant 2e-3
# and an EMA of 0.99, with SD3's logit-normal training times and LightningDiT's velocity-direction
# (cosine) loss, sampled by UniPC with 10 model evaluations at CFG 2: the best of the recipes
# examples/sit-bench/quickstart_sweep.sh tried at this training time (docs/recipes.md, "On the
# quick start").
"$root/build/examples/sit-train/sit-train" \
  --model '' --patch-size 4 --depth 4 --hidden-size 128 --num-heads 4 \
  --global-batch-size 64 --max-steps 1300 --lr 2e-3 --ema-decay 0.99 --log-every 100 \
  --time-sampling logit-normal --cosine-loss-weight 1 --grad-clip 1 \
  --ckpt-every 650 --sample-every 650 --num-sampling-steps 10 --sampling-method unipc --cfg-scale 2 \
  --results-dir "$out"

ckpt="$out/checkpoints/0001300.pt"
sample=("$root/build/examples/sit-sample/sit-sample" ODE --ckpt "$ckpt"
        --sampling-method unipc --num-sampling-steps 10 --cfg-scale 2)
# One row per class: 10 samples of each of the 10 classes.
"${sample[@]}" --class-labels "$(seq -s, 0 9 | sed 's/[0-9]\+/&,&,&,&,&,&,&,&,&,&/g')" \
  --seed 0 --nrow 10 --out "$out/samples.png"
"${sample[@]}" --num-samples 1000 --batch-size 100 --seed 1 --out '' --out-npz "$out/samples.npz"
# The project's Fashion-MNIST classifier (committed; docs/evaluation.md, "The quick start's own metric").
"$root/build/examples/sit-eval/sit-eval" score --classifier "$root/examples/fashion-mnist-classifier.safetensors" \
  --samples "$out/samples.npz" --json "$out/score.json"
echo "quick start done: $out/samples.png, $out/samples.npz, $ckpt"
