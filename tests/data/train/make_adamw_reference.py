"""Reference for AdamW with LightningDiT's and MeanFlow's beta2 = 0.95 (test_optimizer.cpp).

torch.optim.AdamW(params, lr=3e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1) on float32
parameters of shapes (7,) and (3, 5), four steps with the gradients given; the betas are those of
LightningDiT's train.py (betas=(0.9, train_config['optimizer']['beta2']), beta2 0.95 in its
configs) and MeanFlow's configs/default.py (training.adam_b2 = 0.95).

Writes adamw_reference.npz (float32) next to this script:
  p0_start, p1_start    the parameters before the first step, np.random.RandomState(0)
  g<i>_step<k>          the gradient of parameter i at step k (0..3), np.random.RandomState(1),
                        times i + 1
  p<i>_end, exp_avg<i>, exp_avg_sq<i>  the parameters and AdamW's moments after the four steps

Needs: NumPy and torch (Debian's python3-torch 1.13 was used). From the repository root:

    /usr/bin/python3 tests/data/train/make_adamw_reference.py
"""
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = [(7,), (3, 5)]
STEPS = 4


def main():
    start = np.random.RandomState(0)
    grads = np.random.RandomState(1)
    out = {}
    params = []
    for i, shape in enumerate(SHAPES):
        out[f"p{i}_start"] = start.standard_normal(shape).astype(np.float32)
        params.append(torch.tensor(out[f"p{i}_start"], requires_grad=True))
    optimizer = torch.optim.AdamW(params, lr=3e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    for k in range(STEPS):
        for i, p in enumerate(params):
            g = (grads.standard_normal(SHAPES[i]) * (i + 1)).astype(np.float32)
            out[f"g{i}_step{k}"] = g
            p.grad = torch.from_numpy(g.copy())
        optimizer.step()
    for i, p in enumerate(params):
        state = optimizer.state[p]
        out[f"p{i}_end"] = p.detach().numpy().copy()
        out[f"exp_avg{i}"] = state["exp_avg"].numpy().copy()
        out[f"exp_avg_sq{i}"] = state["exp_avg_sq"].numpy().copy()
    path = os.path.join(HERE, "adamw_reference.npz")
    np.savez(path, **out)
    print("wrote", path)


if __name__ == "__main__":
    main()
