"""Reference outputs of REPA's SiT, projector and projection loss (sihyun-yu/REPA @67f7145,
models/sit.py and loss.py) on random weights, for the C++ tests (tests/repa).

Needs: torch (made with 2.15.0, CPU), numpy, and the modules REPA's files import: timm (1.0.8; its
import needs torchvision, 0.29.2). Run from the repository root with a checkout of REPA:

    pip install --target /tmp/repa-pylib --no-deps timm==1.0.8 torchvision pyyaml huggingface_hub safetensors pillow
    PYTHONPATH=/tmp/repa-pylib python tests/data/repa/make_repa_fixtures.py /path/to/REPA

Writes, next to this script:

repa_sit.pt  torch.save(state_dict) of REPA's SiT(input_size=8, patch_size=2, in_channels=4,
  hidden_size=32, decoder_hidden_size=32, encoder_depth=2, depth=3, num_heads=2, mlp_ratio=2,
  class_dropout_prob=0.1, num_classes=10, z_dims=[24], projector_dim=32, qk_norm=False,
  fused_attn=False): the SiT's keys (no learned sigma: out_channels = in_channels) and the
  projector's, "projectors.0.{0,2,4}.{weight,bias}". Every parameter but pos_embed (REPA's fixed
  sin-cos) is redrawn, torch.manual_seed(0), in state-dict order, as N(0, 0.1^2), so that no
  zero-initialised layer hides a term.

repa_reference.npz  (torch.manual_seed(1) draws images, noises, time_input, y, z in order)
    images      float32 (3, 4, 8, 8)   N(0, 1)
    noises      float32 (3, 4, 8, 8)   N(0, 1)
    time_input  float32 (3,)           U(0, 1)  (REPA's t: 0 at the data, 1 at the noise)
    y           int64 (3,)             labels in 0..9
    z           float32 (3, 16, 24)    N(0, 1), the "encoder tokens" (16 = the 4x4 token grid)
    model_input float32 (3, 4, 8, 8)   (1 - t) images + t noises, as SILoss.interpolant("linear")
    output      float32 (3, 4, 8, 8)   the model's velocity (model.eval(): no label dropout)
    zs_tilde    float32 (3, 16, 24)    projectors[0] of the tokens after block encoder_depth = 2
    proj_loss   float32 ()             SILoss()(model, images, {"y": y}, zs=[z])'s proj_loss
    denoising_loss float32 (3,)        and its denoising loss, per sample
  SILoss's own draws (torch.rand for t, torch.randn_like for the noise) are replaced by the given
  time_input and noises, so SILoss runs unchanged otherwise. Float32 on the CPU; the script prints
  the largest difference from a float64 run of the same computation, a guide to test tolerances.
"""

import os
import sys

import numpy as np
import torch

repa_dir = sys.argv[1]
sys.path.insert(0, repa_dir)
from models.sit import SiT  # noqa: E402
from loss import SILoss  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))


def make_model():
    return SiT(input_size=8, patch_size=2, in_channels=4, hidden_size=32, decoder_hidden_size=32, encoder_depth=2,
               depth=3, num_heads=2, mlp_ratio=2.0, class_dropout_prob=0.1, num_classes=10, z_dims=[24],
               projector_dim=32, qk_norm=False, fused_attn=False)


def run(model, inputs, dtype):
    model = model.to(dtype).eval()
    images, noises, time_input, y, z = (v.to(dtype) if v.is_floating_point() else v for v in inputs)
    draws = {"rand": time_input.view(-1, 1, 1, 1), "randn_like": noises}
    rand, randn_like = torch.rand, torch.randn_like
    torch.rand = lambda *args, **kwargs: draws["rand"]
    torch.randn_like = lambda *args, **kwargs: draws["randn_like"]
    try:
        denoising_loss, proj_loss = SILoss(prediction="v", path_type="linear", weighting="uniform")(
            model, images, {"y": y}, zs=[z])
    finally:
        torch.rand, torch.randn_like = rand, randn_like
    t = time_input.view(-1, 1, 1, 1)
    model_input = (1 - t) * images + t * noises
    with torch.no_grad():
        output, zs_tilde = model(model_input, time_input, y)
    return {"model_input": model_input, "output": output, "zs_tilde": zs_tilde[0],
            "proj_loss": proj_loss.detach(), "denoising_loss": denoising_loss.detach()}


def main():
    torch.manual_seed(0)
    model = make_model()
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if name != "pos_embed":
                p.normal_(0, 0.1)
    torch.save(model.state_dict(), os.path.join(here, "repa_sit.pt"))

    torch.manual_seed(1)
    images = torch.randn(3, 4, 8, 8)
    noises = torch.randn(3, 4, 8, 8)
    time_input = torch.rand(3)
    y = torch.randint(0, 10, (3,))
    z = torch.randn(3, 16, 24)
    inputs = (images, noises, time_input, y, z)

    out = run(make_model_from(model), inputs, torch.float32)
    out64 = run(make_model_from(model), inputs, torch.float64)
    for key in out:
        print(f"{key}: float32 vs float64 max abs difference {(out[key].double() - out64[key]).abs().max().item():.3g}")
    arrays = {"images": images, "noises": noises, "time_input": time_input, "y": y, "z": z, **out}
    np.savez(os.path.join(here, "repa_reference.npz"), **{k: v.numpy() for k, v in arrays.items()})


def make_model_from(model):
    copy = make_model()
    copy.load_state_dict(model.state_dict())
    return copy


if __name__ == "__main__":
    main()
