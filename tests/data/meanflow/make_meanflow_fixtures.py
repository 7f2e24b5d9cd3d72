#!/usr/bin/env python3
"""Reference cases for sit's MeanFlow loss, computed by the authors' PyTorch code.

How to run (torch >= 2.0 for torch.func.jvp; numpy):

    python3 make_meanflow_fixtures.py SIT_CHECKOUT PY_MEANFLOW_CHECKOUT [--out DIR]

  SIT_CHECKOUT          a checkout of willisma/SiT (947f95b): its models.py gives the SiT modules.
  PY_MEANFLOW_CHECKOUT  a checkout of Gsunshine/py-meanflow (1f6d72d): meanflow/models/meanflow.py
                        (MeanFlow.forward_with_loss, the loss by torch.func.jvp) and
                        meanflow/models/time_sampler.py (the (t, r) draw).
  --out DIR             where the case folders go (default: beside this script).

Both checkouts are put on sys.path; nothing of them is copied here. models.py imports timm's
PatchEmbed, Attention and Mlp; a stand-in with timm's parameter names and maths (Conv2d patch
projection then flatten; qkv Linear, softmax(q k^T / sqrt(head_dim)) v, proj Linear; fc1, GELU-tanh,
fc2) is written to a temporary folder and put first on sys.path.

The model: the official SiT (input 4x16x16, patch 4, depth 2, hidden 32, 2 heads, 10 classes,
class_dropout_prob 0.1, learn_sigma) with a second TimestepEmbedder, h_embedder, and the
conditioning c = t_embedder(t) + h_embedder(h) + y_embedder(y) of MeanFlow's models_dit.py; every
parameter but pos_embed redrawn from N(0, 0.05^2) by a generator seeded 27, in named_parameters()
order. It runs in SiT's clock (t = 1 at data, output u_sit); py-meanflow's network is
u_mf(z, (t, h)) = -u_sit(z, 1 - t, h), the mapping of docs/meanflow.md.

Cases (folders):
  unguided/  py-meanflow's forward_with_loss on data x1 and labels y, with its torch.randn_like
             (the noise) and time_sampler's torch.randn / torch.rand (the normals of t and r, the
             r = t uniforms; ratio 0.25, P_mean -0.4, P_std 1.0) replayed from the saved draws;
             norm_p 1, norm_eps 0.01.
  guided/    MeanFlow's guided target (the JAX meanflow.py's guidance_fn with omega 1.5, kappa 0.3,
             and cond_drop's v_g = v and null label on dropped rows, here the rows drop == 1)
             written out below in torch, with the JVP by torch.func.jvp; no py-meanflow
             counterpart (its CIFAR code is unguided). ratio 0.5, norm_p 0.5 (so that the loss
             value is not ~1 as with p = 1), norm_eps 0.01.
weights.npz: the model's state dict (the same in both cases). Each folder: x1, x0 (noise), y, drop, normals (N, 2), uniforms (N,),
t_mf, r_mf (MeanFlow's clock), loss.npy (the batch mean), u.npy and dudt.npy (MeanFlow's u and
du/dt), grads.npz (d loss / d parameter), case.json.
"""
import argparse
import copy
import json
import os
import sys
import tempfile
import types

import numpy as np
import torch

TIMM_STAND_IN = '''
import torch, torch.nn as nn

class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim, bias=True):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.patch_size = (patch_size, patch_size)
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, patch_size, bias=bias)
    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)

class Attention(nn.Module):
    def __init__(self, dim, num_heads=8, qkv_bias=False, **kwargs):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))

class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features, act_layer=nn.GELU, drop=0, **kwargs):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, in_features)
    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))
'''

MODEL = {"input_size": 16, "patch_size": 4, "in_channels": 4, "hidden_size": 32, "depth": 2,
         "num_heads": 2, "mlp_ratio": 4.0, "class_dropout_prob": 0.1, "num_classes": 10,
         "learn_sigma": True}
N = 6
WEIGHT_SEED = 27
WEIGHT_STD = 0.05


def mean_flow_sit_class(models):
    class MeanFlowSiT(models.SiT):
        """The official SiT with MeanFlow's interval embedder: u_sit(x, t, h, y)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.h_embedder = models.TimestepEmbedder(kwargs["hidden_size"])

        def forward(self, x, t, h, y):
            x = self.x_embedder(x) + self.pos_embed
            c = self.t_embedder(t) + self.h_embedder(h) + self.y_embedder(y, False)
            for block in self.blocks:
                x = block(x, c)
            x = self.unpatchify(self.final_layer(x, c))
            return x.chunk(2, dim=1)[0] if self.learn_sigma else x

    return MeanFlowSiT


def build_model(models):
    model = mean_flow_sit_class(models)(**MODEL)
    g = torch.Generator().manual_seed(WEIGHT_SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name != "pos_embed":
                p.copy_(torch.randn(p.shape, generator=g) * WEIGHT_STD)
    return model


def draws(seed):
    g = torch.Generator().manual_seed(seed)
    x1 = torch.randn(N, 4, 16, 16, generator=g)
    x0 = torch.randn(N, 4, 16, 16, generator=g)
    y = torch.randint(0, 10, (N,), generator=g)
    normals = torch.randn(N, 2, generator=g)
    uniforms = torch.rand(N, generator=g)
    uniforms[0], uniforms[1] = 0.1, 0.9  # one r = t row and one r < t row at least (ratio 0.25)
    return x1, x0, y, normals, uniforms


class Replay:
    """A stand-in for the torch module of time_sampler.py: randn and rand return saved draws."""

    def __init__(self, randn, rand):
        self._randn, self._rand = list(randn), rand

    def randn(self, *args, **kwargs):
        return self._randn.pop(0).clone()

    def rand(self, *args, **kwargs):
        return self._rand.clone()

    def __getattr__(self, name):
        return getattr(torch, name)


def unguided_case(models, meanflow_module, time_sampler):
    model = build_model(models)
    x1, x0, y, normals, uniforms = draws(2701)

    class Net(torch.nn.Module):  # py-meanflow's net(z, (t, h), aug_cond) in MeanFlow's clock
        def __init__(self):
            super().__init__()
            self.sit = copy.deepcopy(model)  # MeanFlow also builds EMA copies

        def forward(self, z, t_h, aug_cond):
            t, h = t_h
            return -self.sit(z, 1 - t, h, aug_cond)

    args = types.SimpleNamespace(ema_decay=0.9999, ema_decays=[], tr_sampler="v0", P_mean_t=-0.4, P_std_t=1.0,
                                 P_mean_r=-0.4, P_std_r=1.0, ratio=0.25, norm_p=1.0, norm_eps=0.01)
    meanflow = meanflow_module.MeanFlow(lambda: Net(), args, {})
    time_sampler.torch = Replay([normals[:, 0], normals[:, 1]], uniforms)
    t_mf, r_mf = time_sampler.sample_two_timesteps(args, N, torch.device("cpu"))
    time_sampler.torch = Replay([normals[:, 0], normals[:, 1]], uniforms)
    randn_like = torch.randn_like
    torch.randn_like = lambda x: x0.clone()
    try:
        loss = meanflow.forward_with_loss(x1, aug_cond=y)
    finally:
        torch.randn_like = randn_like
        time_sampler.torch = torch
    loss.backward()
    u, dudt = mean_flow_u_and_dudt(meanflow.net, x1, x0, y, t_mf, r_mf, x0 - x1)
    grads = {name: p.grad for name, p in meanflow.net.sit.named_parameters() if p.grad is not None}
    return model, dict(x1=x1, x0=x0, y=y, drop=torch.zeros(N, dtype=torch.int64), normals=normals,
                       uniforms=uniforms, t_mf=t_mf, r_mf=r_mf, loss=loss.detach(), u=u, dudt=dudt), grads, {
        "P_mean": -0.4, "P_std": 1.0, "data_proportion": 0.75, "omega": 1.0, "kappa": 0.0, "norm_p": 1.0,
        "norm_eps": 0.01, "source": "py-meanflow MeanFlow.forward_with_loss, time_sampler v0"}


def mean_flow_u_and_dudt(net, x1, x0, y, t_mf, r_mf, v_tangent):
    """MeanFlow's (u, du/dt) at z_t for the net in its clock (for diagnostics)."""
    t, r = t_mf.view(-1, 1, 1, 1), r_mf.view(-1, 1, 1, 1)
    z = (1 - t) * x1 + t * x0
    u, dudt = torch.func.jvp(lambda z, t, r: net(z, (t.view(-1), (t - r).view(-1)), y), (z, t, r),
                             (v_tangent, torch.ones_like(t), torch.zeros_like(r)))
    return u.detach(), dudt.detach()


def guided_case(models, time_sampler):
    """JAX meanflow.py's forward (guidance_fn with kappa > 0, cond_drop, the loss) in torch."""
    model = build_model(models)
    x1, x0, y, normals, uniforms = draws(2702)
    omega, kappa, null = 1.5, 0.3, MODEL["num_classes"]
    drop = torch.tensor([0, 1, 0, 0, 1, 0])
    args = types.SimpleNamespace(tr_sampler="v0", P_mean_t=-0.4, P_std_t=1.0, P_mean_r=-0.4, P_std_r=1.0,
                                 ratio=0.5)
    time_sampler.torch = Replay([normals[:, 0], normals[:, 1]], uniforms)
    t_mf, r_mf = time_sampler.sample_two_timesteps(args, N, torch.device("cpu"))
    time_sampler.torch = torch

    def u_fn(z, t, h, labels):  # MeanFlow's clock
        return -model(z, 1 - t.view(-1), h.view(-1), labels)

    t, r = t_mf.view(-1, 1, 1, 1), r_mf.view(-1, 1, 1, 1)
    z_t = (1 - t) * x1 + t * x0
    v = x0 - x1
    with torch.no_grad():  # guidance_fn
        v_uncond = u_fn(z_t, t, torch.zeros_like(t), torch.full_like(y, null))
        v_cond = u_fn(z_t, t, torch.zeros_like(t), y)
        v_g = omega * v + (1 - omega - kappa) * v_uncond + kappa * v_cond
    dropped = drop == 1  # cond_drop
    y_inp = torch.where(dropped, torch.full_like(y, null), y)
    v_g = torch.where(dropped.view(-1, 1, 1, 1), v, v_g)
    u, dudt = torch.func.jvp(lambda z, t, r: u_fn(z, t, t - r, y_inp), (z_t, t, r),
                             (v_g, torch.ones_like(t), torch.zeros_like(r)))
    u_tgt = (v_g - torch.clip(t - r, 0.0, 1.0) * dudt).detach()
    loss = ((u - u_tgt) ** 2).sum(dim=(1, 2, 3))
    loss = (loss / (loss + 0.01).detach() ** 0.5).mean()
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    return model, dict(x1=x1, x0=x0, y=y, drop=drop, normals=normals, uniforms=uniforms, t_mf=t_mf, r_mf=r_mf,
                       loss=loss.detach(), u=u.detach(), dudt=dudt.detach()), grads, {
        "P_mean": -0.4, "P_std": 1.0, "data_proportion": 0.5, "omega": omega, "kappa": kappa, "norm_p": 0.5,
        "norm_eps": 0.01, "source": "JAX meanflow.py's guidance_fn, cond_drop and loss, in torch"}


def save(out, name, model, arrays, grads, settings):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    np.savez(os.path.join(out, "weights.npz"), **{k: v.detach().numpy() for k, v in model.state_dict().items()})
    np.savez(os.path.join(folder, "grads.npz"), **{k: v.numpy() for k, v in grads.items()})
    for key, value in arrays.items():
        np.save(os.path.join(folder, key + ".npy"), value.numpy())
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump({"model": MODEL, "weight_seed": WEIGHT_SEED, "weight_std": WEIGHT_STD, "torch": torch.__version__,
                   **settings}, f, indent=2)
    print(name, "loss", float(arrays["loss"]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("sit_checkout")
    parser.add_argument("py_meanflow_checkout")
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    a = parser.parse_args()
    stand_in = tempfile.mkdtemp()
    os.makedirs(os.path.join(stand_in, "timm", "models"))
    for package in ("timm", "timm/models"):
        open(os.path.join(stand_in, package, "__init__.py"), "w").close()
    with open(os.path.join(stand_in, "timm", "models", "vision_transformer.py"), "w") as f:
        f.write(TIMM_STAND_IN)
    sys.path[:0] = [stand_in, a.sit_checkout, os.path.join(a.py_meanflow_checkout, "meanflow")]
    torch.set_default_dtype(torch.float32)
    import models as sit_models  # willisma/SiT's models.py
    del sys.modules["models"]  # py-meanflow's models package has the same name
    sys.path.remove(a.sit_checkout)
    import models.meanflow as meanflow_module
    import models.time_sampler as time_sampler
    save(a.out, "unguided", *unguided_case(sit_models, meanflow_module, time_sampler))
    save(a.out, "guided", *guided_case(sit_models, time_sampler))


if __name__ == "__main__":
    main()
