"""SiT in plain PyTorch eager, written the obvious way: the baseline sit-bench is compared with.

With --official-dir DIR (a checkout of willisma/SiT; timm and torchdiffeq importable), the model is
the official models.py, the step's loss the official transport's training_losses and the sampler
its Sampler.sample_ode (torchdiffeq): the official code itself, driven by the same timing loop.

It follows the official models.py (with timm's PatchEmbed, Attention and Mlp spelled out;
attention fused on torch 2.x, as timm does), the
official train.py step (the Linear/velocity transport loss, AdamW, the EMA loop) and sample.py's
classifier-free guidance (the model on the doubled batch [z; z], the first 3 channels guided),
integrated with a fixed-grid Euler or Heun ODE solver as torchdiffeq's.

With --compile (torch 2.x) the model goes through torch.compile in its default mode, as a user
would add it: the step's model call for training and forward, the function the sampler calls
(forward_with_cfg, or forward unguided) for sampling; the optimizer, the EMA and the ODE loop stay
eager. Compilation happens in the first warm-up call, so the timed calls exclude it; compile_ms
in the JSON is that first call's time less the median timed call. Run by side_by_side.py; on its
own:

    python3 sit_eager.py --task train --depth 12 --hidden-size 384 --num-heads 6 --batch-size 8
"""

import argparse
import json
import math
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden_size, frequency_embedding_size=256):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(frequency_embedding_size, hidden_size), nn.SiLU(),
                                 nn.Linear(hidden_size, hidden_size))
        self.frequency_embedding_size = frequency_embedding_size

    def forward(self, t):
        half = self.frequency_embedding_size // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        args = t[:, None].float() * freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


class LabelEmbedder(nn.Module):
    def __init__(self, num_classes, hidden_size, dropout_prob):
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + (dropout_prob > 0), hidden_size)
        self.num_classes = num_classes
        self.dropout_prob = dropout_prob

    def forward(self, labels, train):
        if train and self.dropout_prob > 0:
            drop = torch.rand(labels.shape[0], device=labels.device) < self.dropout_prob
            labels = torch.where(drop, self.num_classes, labels)
        return self.embedding_table(labels)


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if hasattr(F, "scaled_dot_product_attention"):  # torch 2.x, as timm's Attention (fused_attn)
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            x = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class SiTBlock(nn.Module):
    def __init__(self, hidden_size, num_heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))

    def forward(self, x, c):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        return x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


class FinalLayer(nn.Module):
    def __init__(self, hidden_size, patch_size, out_channels):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


def pos_embed_2d(dim, grid):
    """Fixed 2-D sin-cos position embedding (grid*grid, dim), as models.py."""
    def one_axis(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    w, h = np.meshgrid(np.arange(grid, dtype=np.float32), np.arange(grid, dtype=np.float32))
    return np.concatenate([one_axis(dim // 2, h), one_axis(dim // 2, w)], axis=1)


class SiT(nn.Module):
    def __init__(self, input_size, patch_size, in_channels, hidden_size, depth, num_heads,
                 mlp_ratio=4.0, class_dropout_prob=0.1, num_classes=1000, learn_sigma=True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = in_channels * 2 if learn_sigma else in_channels
        self.patch_size = patch_size
        self.learn_sigma = learn_sigma
        self.x_embedder = nn.Conv2d(in_channels, hidden_size, patch_size, patch_size)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.y_embedder = LabelEmbedder(num_classes, hidden_size, class_dropout_prob)
        grid = input_size // patch_size
        self.pos_embed = nn.Parameter(torch.from_numpy(pos_embed_2d(hidden_size, grid)).float().unsqueeze(0),
                                      requires_grad=False)
        self.blocks = nn.ModuleList([SiTBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden_size, patch_size, self.out_channels)

    def unpatchify(self, x):
        c, p = self.out_channels, self.patch_size
        h = w = int(x.shape[1] ** 0.5)
        x = x.reshape(x.shape[0], h, w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, h * p)

    def forward(self, x, t, y):
        x = self.x_embedder(x).flatten(2).transpose(1, 2) + self.pos_embed  # (N, T, D)
        c = self.t_embedder(t) + self.y_embedder(y, self.training)          # (N, D)
        for block in self.blocks:
            x = block(x, c)
        x = self.unpatchify(self.final_layer(x, c))                          # (N, out_channels, H, W)
        if self.learn_sigma:
            x, _ = x.chunk(2, dim=1)
        return x

    def forward_with_cfg(self, x, t, y, cfg_scale):
        half = x[: len(x) // 2]
        model_out = self.forward(torch.cat([half, half], dim=0), t, y)
        eps, rest = model_out[:, :3], model_out[:, 3:]
        cond_eps, uncond_eps = torch.split(eps, len(eps) // 2, dim=0)
        half_eps = uncond_eps + cfg_scale * (cond_eps - uncond_eps)
        return torch.cat([torch.cat([half_eps, half_eps], dim=0), rest], dim=1)


PRESETS = {"SiT-XL": (28, 1152, 16), "SiT-L": (24, 1024, 16), "SiT-B": (12, 768, 12), "SiT-S": (12, 384, 6)}


def official(args, module):
    """A module of the official code in args.official_dir."""
    if args.official_dir not in sys.path:
        sys.path.insert(0, args.official_dir)
    return __import__(module)


def make_model(args):
    if args.model:
        name, patch = args.model.split("/")
        depth, hidden, heads = PRESETS[name]
        patch = int(patch)
    else:
        depth, hidden, heads, patch = args.depth, args.hidden_size, args.num_heads, args.patch_size
    if args.official_dir:
        return official(args, "models").SiT(input_size=args.input_size, patch_size=patch, in_channels=args.in_channels,
                                            hidden_size=hidden, depth=depth, num_heads=heads,
                                            num_classes=args.num_classes)
    return SiT(args.input_size, patch, args.in_channels, hidden, depth, heads, num_classes=args.num_classes)


def compiled(args, fn):
    """fn as the timed code calls it: through torch.compile with --compile."""
    return torch.compile(fn) if args.compile else fn


def train_runner(args, device):
    """train.py's step: Linear path, velocity prediction, AdamW and the EMA update."""
    model = make_model(args).to(device)
    # The optimizer and the EMA keep the module itself: the compiled wrapper names its parameters
    # "_orig_mod.*".
    model_fn = compiled(args, model)
    ema = make_model(args).to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0)
    model.train()
    x1 = torch.randn(args.batch_size, args.in_channels, args.input_size, args.input_size, device=device)
    y = torch.randint(args.num_classes, (args.batch_size,), device=device)

    transport = official(args, "transport").create_transport() if args.official_dir else None

    def step():
        if transport:  # train.py: Linear path, velocity, no loss weight
            loss = transport.training_losses(model_fn, x1, dict(y=y))["loss"].mean()
        else:
            x0 = torch.randn_like(x1)
            t = torch.rand(x1.shape[0], device=device)
            texp = t.view(-1, 1, 1, 1)
            xt = texp * x1 + (1 - texp) * x0
            loss = ((model_fn(xt, t, y) - (x1 - x0)) ** 2).mean(dim=(1, 2, 3)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            ema_params = dict(ema.named_parameters())
            for name, param in model.named_parameters():
                ema_params[name].mul_(0.9999).add_(param.data, alpha=1 - 0.9999)
        loss.item()
        return 1, args.batch_size
    return step


def forward_runner(args, device):
    model = compiled(args, make_model(args).to(device).eval())
    x = torch.randn(args.batch_size, args.in_channels, args.input_size, args.input_size, device=device)
    t = torch.rand(args.batch_size, device=device)
    y = torch.randint(args.num_classes, (args.batch_size,), device=device)

    def step():
        with torch.no_grad():
            model(x, t, y)
        return 1, args.batch_size
    return step


def sample_runner(args, device):
    """sample.py's ODE: [z; z] with labels [y; null], Euler or Heun on linspace(0, 1, steps)."""
    model = make_model(args).to(device).eval()
    n = args.batch_size
    z = torch.randn(n, args.in_channels, args.input_size, args.input_size, device=device)
    y = torch.randint(args.num_classes, (n,), device=device)
    guided = args.cfg_scale > 1.0
    if guided:
        z = torch.cat([z, z], 0)
        y = torch.cat([y, torch.full((n,), args.num_classes, device=device)], 0)

    model_fn = compiled(args, model.forward_with_cfg if guided else model.forward)
    kwargs = dict(y=y, cfg_scale=args.cfg_scale) if guided else dict(y=y)

    def drift(x, t):
        return model_fn(x, torch.ones(x.shape[0], device=device) * t, **kwargs)

    if args.official_dir:  # sample.py: Sampler(transport).sample_ode(...)(z, model_fn, **model_kwargs)
        transport = official(args, "transport")
        sample_fn = transport.Sampler(transport.create_transport()).sample_ode(
            sampling_method=args.sampling_method, num_steps=args.num_sampling_steps)

        def official_step():
            evaluations = [0]

            def counted(*a, **k):
                evaluations[0] += 1
                return model_fn(*a, **k)
            with torch.no_grad():
                sample_fn(z, counted, **kwargs)
            return evaluations[0], z.shape[0]
        return official_step

    def step():
        evaluations = 0
        with torch.no_grad():
            x = z
            ts = torch.linspace(0, 1, args.num_sampling_steps)
            for t0, t1 in zip(ts[:-1], ts[1:]):
                h = t1 - t0
                k1 = drift(x, t0)
                evaluations += 1
                if args.sampling_method == "euler":
                    x = x + h * k1
                else:
                    k2 = drift(x + h * k1, t1)
                    evaluations += 1
                    x = x + h / 2 * (k1 + k2)
        return evaluations, z.shape[0]
    return step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", choices=["train", "forward", "sample"], default="train")
    parser.add_argument("--model", default="SiT-S/2")
    parser.add_argument("--patch-size", type=int, default=2)
    parser.add_argument("--depth", type=int, default=12)
    parser.add_argument("--hidden-size", type=int, default=384)
    parser.add_argument("--num-heads", type=int, default=6)
    parser.add_argument("--input-size", type=int, default=32)
    parser.add_argument("--in-channels", type=int, default=4)
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--sampling-method", choices=["euler", "heun2"], default="heun2")
    parser.add_argument("--num-sampling-steps", type=int, default=50)
    parser.add_argument("--cfg-scale", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32")
    parser.add_argument("--json", default="")
    parser.add_argument("--official-dir", default="", help="a checkout of willisma/SiT: time the official code")
    parser.add_argument("--compile", action="store_true", help="the model through torch.compile (torch 2.x)")
    args = parser.parse_args()
    if args.compile and not hasattr(torch, "compile"):
        raise SystemExit(f"--compile needs torch.compile (PyTorch 2.0 or later); this is torch {torch.__version__}")
    if args.compile and args.warmup < 1:
        raise SystemExit("--compile needs --warmup 1 or more: the first call compiles")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = args.precision != "fp32"
    torch.manual_seed(0)
    run = {"train": train_runner, "forward": forward_runner, "sample": sample_runner}[args.task](args, device)

    def timed():
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            result = run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - start) * 1000, result

    warmup = [timed()[0] for _ in range(args.warmup)]
    if device.type == "cuda":  # the peak of the timed calls, as sit-bench reports it
        torch.cuda.reset_peak_memory_stats(device)
    times, evaluations = [], 0
    for _ in range(args.repeats):
        ms, (evaluations, _) = timed()
        times.append(ms)
    median = statistics.median(times)
    result = {"task": args.task, "median_ms": median, "times_ms": times, "warmup_ms": warmup,
              "images_per_s": args.batch_size / (median / 1000),
              "model_evaluations": evaluations, "threads": torch.get_num_threads(),
              "torch": torch.__version__, "compile": args.compile}
    if args.compile:
        result["compile_ms"] = warmup[0] - median
    if device.type == "cuda":
        result["peak_memory_bytes"] = torch.cuda.max_memory_allocated(device)
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
