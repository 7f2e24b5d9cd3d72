"""Reference for the training loss's time distribution and cosine loss (test_training_loss.cpp).

Logit-normal times as SD3 draws them: diffusers' compute_density_for_timestep_sampling
(huggingface/diffusers, examples/dreambooth/train_dreambooth_sd3.py and training_utils.py) draws
u = sigmoid(normal(mean=logit_mean, std=logit_std)) as the noise level, t = 1 at the noise. SiT's
times have t = 1 at the data, so t_SiT = 1 - u_SD3, and a SiT mean m is the SD3 mean -m. Each
example's draw is given as a uniform v on [0, 1) (what sit's per-example streams hold), and the
normal draw of the SD3 side is its quantile at 1 - v, Python's statistics.NormalDist().inv_cdf in
float64, independent of the erfinv that sit uses. The times are then mapped onto the training
interval as LightningDiT's Transport.sample does (hustvl/LightningDiT 2725fed,
transport/transport.py): t0 + (t1 - t0) t.

The velocity loss at those times, written in SD3's convention (x_t = (1 - s) x + s e with
s = 1 - t, target e - x, the model's velocity negated): mean((v_SD3 - (e - x))^2) over the
non-batch dimensions, for the stand-in model of test_transport.cpp, v_SiT = 0.5 sin(x_t) + t.

LightningDiT's cosine loss, mean_flat(1 - cosine_similarity(pred, u_t, dim=1)) (same file,
training_losses), is computed by torch.nn.functional.cosine_similarity with dim=1 on
(N, C, H, W), and over patches and whole samples on the same call after a reshape; a NumPy float64
computation of sum(a b) / (|a| |b|) must agree to 1e-12.

Writes training_loss_reference.npz (float64) next to this script:
  x1, x0          (6, 3, 4, 4)  data and noise, np.random.RandomState(0).standard_normal
  v               (6,)          uniforms on the 2^-24 grid of sit's draws, ends included
  t_<case>        (6,)          times for each case of CASES (its logit mean and scale in SiT's
                                convention, the training interval)
  loss_<case>     (6,)          velocity loss of the stand-in model (cases on [0, 1] only)
  cos_patch2_lognorm  (6,)      LightningDiT's cosine loss of the stand-in model at t_lognorm, over
                                2 x 2 x 3 patches
  pred, target    (6, 3, 4, 4)  np.random.RandomState(1).standard_normal
  cos_channel, cos_patch2, cos_sample  (6,)  LightningDiT's cosine loss over each kind of vector
  cos_parallel    (6,)          the same over patches for pred = 2.5 target (all 0)

Needs: NumPy and torch (Debian's python3-torch 1.13 was used). From the repository root:

    /usr/bin/python3 tests/data/transport/make_training_loss_reference.py
"""
import os
import statistics

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (logit mean m, logit scale s, t0, t1), in SiT's convention (t = 1 at the data).
CASES = {
    "lognorm": (0.0, 1.0, 0.0, 1.0),        # LightningDiT's use_lognorm, SD3's lognorm(0.00, 1.00)
    "meanflow": (0.4, 1.0, 0.0, 1.0),       # MeanFlow's P_mean -0.4, P_std 1.0 (t = 1 at the noise)
    "vp": (-0.8, 1.5, 0.0, 0.9),            # a VP path, train_eps 0.1: [0, 1 - eps]
    "score": (0.5, 0.7, 0.1, 0.9),          # a score model on Linear, train_eps 0.1: [eps, 1 - eps]
}


def sd3_times(v, m, s):
    """SD3's noise levels for the normal draws that the uniforms v stand for, as SiT times."""
    n = np.array([statistics.NormalDist().inv_cdf(1 - float(vi)) for vi in v])  # the SD3 side's N(0, 1)
    # compute_density_for_timestep_sampling with logit_mean -m, logit_std s: normal(mean, std) is
    # mean + std n, then the sigmoid.
    u = torch.sigmoid(torch.from_numpy(-m + s * n))
    return 1 - u.numpy()


def stand_in_velocity(x1, x0, t):
    """The stand-in model's SiT velocity at SD3's noisy sample for times t."""
    tt = t[:, None, None, None]
    sigma = 1 - tt  # SD3's noise level
    noisy = (1 - sigma) * x1 + sigma * x0
    return 0.5 * np.sin(noisy) + tt


def velocity_loss(x1, x0, t):
    target = x0 - x1  # SD3's
    return ((-stand_in_velocity(x1, x0, t) - target) ** 2).mean(axis=(1, 2, 3))


def vectors(x, over, p=2):
    n, c, h, w = x.shape
    if over == "channel":
        return x
    if over == "patch":  # (N, C p p, T): the vectors on dim 1, as LightningDiT's call takes them
        return x.reshape(n, c, h // p, p, w // p, p).transpose(0, 1, 3, 5, 2, 4).reshape(n, c * p * p, -1)
    return x.reshape(n, -1, 1)


def cosine_loss_torch(pred, target, over):
    a, b = (torch.from_numpy(np.ascontiguousarray(vectors(x, over))) for x in (pred, target))
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1)
    return (1 - cos).reshape(len(pred), -1).mean(1).numpy()


def cosine_loss_numpy(pred, target, over):
    a, b = vectors(pred, over), vectors(target, over)
    cos = (a * b).sum(1) / (np.sqrt((a * a).sum(1)) * np.sqrt((b * b).sum(1)))
    return (1 - cos).reshape(len(pred), -1).mean(1)


def main():
    data = np.random.RandomState(0)
    out = {"x1": data.standard_normal((6, 3, 4, 4)), "x0": data.standard_normal((6, 3, 4, 4))}
    grid = 2.0 ** -24
    out["v"] = np.array([1, 2 ** 22, 2 ** 23 - 12345, 2 ** 23, 15 * 2 ** 20, 2 ** 24 - 1]) * grid
    for name, (m, s, t0, t1) in CASES.items():
        t = sd3_times(out["v"], m, s) * (t1 - t0) + t0
        out["t_" + name] = t
        if (t0, t1) == (0.0, 1.0):
            out["loss_" + name] = velocity_loss(out["x1"], out["x0"], t)

    vectors_rng = np.random.RandomState(1)
    pred, target = vectors_rng.standard_normal((6, 3, 4, 4)), vectors_rng.standard_normal((6, 3, 4, 4))
    out["pred"], out["target"] = pred, target
    for over, key in (("channel", "cos_channel"), ("patch", "cos_patch2"), ("sample", "cos_sample")):
        reference = cosine_loss_torch(pred, target, over)
        assert np.abs(reference - cosine_loss_numpy(pred, target, over)).max() < 1e-12, over
        out[key] = reference
    out["cos_parallel"] = cosine_loss_torch(2.5 * target, target, "patch")
    v_sit = stand_in_velocity(out["x1"], out["x0"], out["t_lognorm"])
    out["cos_patch2_lognorm"] = cosine_loss_torch(v_sit, out["x1"] - out["x0"], "patch")

    path = os.path.join(HERE, "training_loss_reference.npz")
    np.savez(path, **out)
    print("wrote", path)


if __name__ == "__main__":
    main()
