"""Reference numbers for power-function EMA and its post-hoc reconstruction, from EDM2's own code.

EDM2 (Karras et al., 2024, "Analyzing and Improving the Training Dynamics of Diffusion Models";
NVlabs/edm2 at 4bf8162) tracks power-function EMAs with training/phema.py and reconstructs others
with reconstruct_phema.py. This script imports training/phema.py from an EDM2 checkout (it needs
only NumPy and torch) and writes phema_reference.json next to itself:

  sigma_rel_to_gamma  [[sigma_rel, gamma], ...]    phema.std_to_exp (the cubic's largest real root)
  beta                [[sigma_rel, step, beta], ...]  phema.power_function_beta(std, t_next, t_delta)
                      with EDM2's units: t_next = step * batch images seen after the step, t_delta =
                      batch; sit counts t in steps, beta = (1 - 1/step)^(gamma + 1), the same number
  reconstruction      batch, in_steps, in_sigma_rels, out_step, out_sigma_rels, and
                      coefficients: (in, out) phema.solve_posthoc_coefficients(in_nimg, in_std,
                                    out_nimg, out_std) in nimg = step * batch
                      snapshots: per input, {"a": (3, 4), "b": (5,)} float32 weights drawn from
                                 np.random.RandomState(0).standard_normal, in input order
                      outputs: per output, {"a", "b"} summed as reconstruct_phema.py does in
                               float32 (for each input in order: pj += pi * coefs[i, j]), before its
                               final cast to float16
  earlier             the coefficients of a reconstruction at an earlier step (out_step 400): only
                      inputs with 0 < step <= out_step take part, as in reconstruct_phema.py

Made with, from the repository root (Debian 12: python3-torch 1.13, NumPy 1.24.2):

    git --git-dir=<edm2 clone>/.git show 4bf8162:training/phema.py > /tmp/edm2/phema.py
    /usr/bin/python3 tests/data/phema/make_phema_reference.py /tmp/edm2
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 256
SIGMA_RELS = [0.01, 0.03, 0.05, 0.1, 0.15, 0.2, 0.25, 0.288, 0.2889]
STEPS = [1, 2, 3, 10, 1000, 123457]
IN_STEPS = [100, 200, 300, 400, 500, 600, 700, 800]
IN_SIGMA_RELS = [0.05, 0.10]
OUT_SIGMA_RELS = [0.03, 0.05, 0.08, 0.10, 0.15, 0.20]


def main(edm2_training_dir):
    sys.path.insert(0, edm2_training_dir)
    import phema  # EDM2's training/phema.py

    gamma = [[s, float(phema.std_to_exp(s))] for s in SIGMA_RELS]
    beta = [[s, t, float(phema.power_function_beta(std=s, t_next=t * BATCH, t_delta=BATCH))]
            for s in SIGMA_RELS for t in STEPS]

    # Inputs sorted by (step, sigma_rel), as reconstruct_phema.py's list_input_pickles sorts them.
    inputs = sorted((t, s) for t in IN_STEPS for s in IN_SIGMA_RELS)
    in_steps = [t for t, _ in inputs]
    in_sigma_rels = [s for _, s in inputs]
    nimg = np.array(in_steps) * BATCH
    out_step = max(in_steps)
    coefs = phema.solve_posthoc_coefficients(nimg, in_sigma_rels, out_step * BATCH, OUT_SIGMA_RELS)

    rng = np.random.RandomState(0)
    snapshots = [{"a": rng.standard_normal((3, 4)).astype(np.float32),
                  "b": rng.standard_normal(5).astype(np.float32)} for _ in inputs]
    outputs = []
    for j in range(len(OUT_SIGMA_RELS)):
        out = {k: torch.zeros(v.shape, dtype=torch.float32) for k, v in snapshots[0].items()}
        for i, snapshot in enumerate(snapshots):
            for k in out:
                out[k] += torch.from_numpy(snapshot[k]) * coefs[i, j]
        outputs.append(out)

    earlier_step = 400
    keep = [i for i, t in enumerate(in_steps) if 0 < t <= earlier_step]
    earlier = phema.solve_posthoc_coefficients(nimg[keep], np.array(in_sigma_rels)[keep], earlier_step * BATCH,
                                               OUT_SIGMA_RELS)

    as_list = lambda x: np.asarray(x, dtype=np.float64).tolist()
    reference = {
        "sigma_rel_to_gamma": gamma,
        "beta": beta,
        "reconstruction": {
            "batch": BATCH, "in_steps": in_steps, "in_sigma_rels": in_sigma_rels, "out_step": out_step,
            "out_sigma_rels": OUT_SIGMA_RELS, "coefficients": as_list(coefs),
            "snapshots": [{k: as_list(v) for k, v in s.items()} for s in snapshots],
            "outputs": [{k: as_list(v.numpy()) for k, v in o.items()} for o in outputs],
        },
        "earlier": {"out_step": earlier_step, "coefficients": as_list(earlier)},
    }
    with open(os.path.join(HERE, "phema_reference.json"), "w") as f:
        json.dump(reference, f)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
