#!/usr/bin/env python3
"""Reference cases for sit's LightningDiT block options (use_rmsnorm, use_swiglu, use_rope,
use_qknorm), computed by the authors' model code (hustvl/LightningDiT, commit 2725fed:
models/lightningdit.py, rmsnorm.py, swiglu_ffn.py, pos_embed.py).

How to run:

    TORCHDYNAMO_DISABLE=1 python3 make_lightning_fixtures.py LIGHTNINGDIT_CHECKOUT [--out DIR]

  LIGHTNINGDIT_CHECKOUT  a checkout of hustvl/LightningDiT; it is put first on sys.path (its
                         `models` package is imported), nothing of it is copied here.
  --out DIR              where the case folders go (default: this script's folder).

Environment the committed cases were made with: CPU, float32, torch 2.x (its
F.scaled_dot_product_attention, which LightningDiT's Attention calls), einops 0.8 (pos_embed.py),
numpy. TORCHDYNAMO_DISABLE=1 turns the @torch.compile decorators of the authors' code into plain
calls. Two imports of the authors' files are stood in for here, in sys.modules, before they load:
- fairscale (rmsnorm.py imports its model-parallel layers at the top; RMSNorm uses none of them):
  empty modules with the three names.
- timm.models.vision_transformer (recent timm needs torchvision): PatchEmbed and Mlp with timm's
  parameter names, registration order and math (PatchEmbed: Conv2d proj with stride = patch,
  flatten(2).transpose(1, 2), no norm, `num_patches`, `patch_size` as a pair; Mlp: fc1, act, fc2,
  the act given as a factory, dropout 0).

Each case is one LightningDiT (input 4x8x8, patch 2, hidden 64, 4 heads, mlp_ratio 2, 10
classes, class_dropout_prob 0.1) with the options of CASES. Every parameter but pos_embed is
redrawn by a CPU torch.Generator seeded with the case's seed, in named_parameters() order: norm
weights 1 + 0.1 N(0, 1), every other parameter 0.1 N(0, 1) (the authors' initialisation zeroes
the output layers, which would make every output and most gradients zero). Then from the same
generator: x = randn(3, 4, 8, 8), t = rand(3), y = randint(0, 11, (3,)) (10 is the null label),
w = randn of the output's shape. In eval mode (no label dropout), with gradients:
out = model(x, t, y) (after the learn_sigma split), loss = (out * w).sum(), loss.backward().

Files of a case folder:
- ckpt.pt: torch.save(model.state_dict()) (the rotary tables feat_rope.freqs_cos/_sin included).
- case.json: the options and the seed.
- reference.npz: x, t, y (int64), w, forward (out).
- grads.npz: the gradient of every parameter with requires_grad, keyed by its name.
"""
import argparse
import json
import os
import sys
import types

import numpy as np
import torch
import torch.nn as nn

MODEL = {"input_size": 8, "patch_size": 2, "in_channels": 4, "hidden_size": 64, "num_heads": 4,
         "mlp_ratio": 2.0, "class_dropout_prob": 0.1, "num_classes": 10}
OPTIONS = ("use_rmsnorm", "use_swiglu", "use_rope", "use_qknorm")

CASES = [
    {"name": "all", "depth": 2, "learn_sigma": True, "seed": 2601,
     "use_rmsnorm": True, "use_swiglu": True, "use_rope": True, "use_qknorm": True},
    {"name": "rmsnorm", "depth": 1, "learn_sigma": True, "seed": 2602, "use_rmsnorm": True},
    {"name": "swiglu", "depth": 1, "learn_sigma": True, "seed": 2603, "use_swiglu": True},
    {"name": "rope", "depth": 1, "learn_sigma": False, "seed": 2604, "use_rope": True},
    {"name": "qknorm", "depth": 1, "learn_sigma": True, "seed": 2605, "use_qknorm": True},
]


def stand_in_imports():
    fairscale = types.ModuleType("fairscale")
    for name in ("fairscale.nn", "fairscale.nn.model_parallel",
                 "fairscale.nn.model_parallel.initialize", "fairscale.nn.model_parallel.layers"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["fairscale"] = fairscale
    layers = sys.modules["fairscale.nn.model_parallel.layers"]
    layers.ColumnParallelLinear = layers.RowParallelLinear = layers.ParallelEmbedding = None

    class PatchEmbed(nn.Module):
        def __init__(self, img_size, patch_size, in_chans, embed_dim, bias=True):
            super().__init__()
            self.img_size = (img_size, img_size)
            self.patch_size = (patch_size, patch_size)
            self.num_patches = (img_size // patch_size) ** 2
            self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size, bias=bias)
            self.norm = nn.Identity()

        def forward(self, x):
            return self.norm(self.proj(x).flatten(2).transpose(1, 2))

    class Mlp(nn.Module):
        def __init__(self, in_features, hidden_features, act_layer, drop=0):
            super().__init__()
            self.fc1 = nn.Linear(in_features, hidden_features)
            self.act = act_layer()
            self.fc2 = nn.Linear(hidden_features, in_features)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    vit = types.ModuleType("timm.models.vision_transformer")
    vit.PatchEmbed, vit.Mlp = PatchEmbed, Mlp
    for name in ("timm", "timm.models"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["timm.models.vision_transformer"] = vit


def make_case(lightningdit, spec, out_root):
    options = {key: spec.get(key, False) for key in OPTIONS}
    model = lightningdit.LightningDiT(depth=spec["depth"], learn_sigma=spec["learn_sigma"], **MODEL, **options)
    g = torch.Generator().manual_seed(spec["seed"])
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "pos_embed":
                continue
            noise = torch.randn(p.shape, generator=g) * 0.1
            p.copy_(1 + noise if "norm" in name and name.endswith("weight") else noise)
    m = MODEL
    x = torch.randn(3, m["in_channels"], m["input_size"], m["input_size"], generator=g)
    t = torch.rand(3, generator=g)
    y = torch.randint(0, m["num_classes"] + 1, (3,), generator=g)
    w = torch.randn(3, m["in_channels"], m["input_size"], m["input_size"], generator=g)
    model.eval()
    out = model(x, t, y)
    (out * w).sum().backward()

    folder = os.path.join(out_root, spec["name"])
    os.makedirs(folder, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(folder, "ckpt.pt"))
    np.savez(os.path.join(folder, "reference.npz"), x=x.numpy(), t=t.numpy(), y=y.numpy(), w=w.numpy(),
             forward=out.detach().numpy())
    grads = {name: p.grad.numpy() for name, p in model.named_parameters() if p.requires_grad}
    np.savez(os.path.join(folder, "grads.npz"), **grads)
    case = {"model": dict(MODEL, depth=spec["depth"], learn_sigma=spec["learn_sigma"], **options),
            "seed": spec["seed"], "lightningdit_commit": "2725fed", "torch": torch.__version__}
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump(case, f, indent=2)
    print(f"{spec['name']}: forward {tuple(out.shape)}, |out| {out.norm():.4f}, {len(grads)} gradients")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkout")
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    if os.environ.get("TORCHDYNAMO_DISABLE") != "1":
        sys.exit("set TORCHDYNAMO_DISABLE=1 (the authors' @torch.compile decorators)")
    stand_in_imports()
    sys.path.insert(0, os.path.abspath(args.checkout))
    from models import lightningdit
    torch.set_default_dtype(torch.float32)
    for spec in CASES:
        make_case(lightningdit, spec, args.out)


if __name__ == "__main__":
    main()
