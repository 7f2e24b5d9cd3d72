"""Reference outputs of DINOv2's ViT (facebookresearch/dinov2 @b8931f7,
dinov2/models/vision_transformer.py) run as REPA's train.py runs its encoder (sihyun-yu/REPA
@67f7145: preprocess_raw_image of train.py, the DINOv2 branch of utils.load_encoders), on random
weights, for the C++ tests (tests/repa).

Needs: torch (made with 2.15.0, CPU), numpy, timm (1.0.8, whose import needs torchvision 0.29.2):
see make_repa_fixtures.py. Run from the repository root with checkouts of REPA and dinov2:

    PYTHONPATH=/tmp/repa-pylib:/path/to/dinov2 python tests/data/repa/make_dinov2_fixtures.py /path/to/REPA

Writes, next to this script:

dinov2_random.pth  torch.save(state_dict) of DinoVisionTransformer(img_size=518, patch_size=14,
  embed_dim=32, depth=2, num_heads=2, mlp_ratio=4, block_fn=partial(Block,
  attn_class=MemEffAttention), init_values=1.0, ffn_layer="mlp", block_chunks=0,
  num_register_tokens=0, interpolate_antialias=False, interpolate_offset=0.1): torch.hub's
  dinov2_vit*14 construction (hub/backbones.py, models/vision_transformer.py's vit_small) at a
  small width, so its keys are those of dinov2_vit*14_pretrain.pth (pos_embed (1, 1 + 37^2, 32)).
  Every parameter is redrawn, torch.manual_seed(0), in state-dict order: LayerNorm weights and
  layer-scale gammas 1 + N(0, 0.1^2), pos_embed N(0, 0.5^2), the rest N(0, 0.1^2).

dinov2_reference.npz
    images              uint8 (2, 3, 256, 256)  torch.manual_seed(1): U(0, 1) on 8x8, bilinear
                                                (align_corners=False) to 256x256, * 255, rounded
    pos_embed           float32 (1, 257, 32)    the model's pos_embed after load_encoders' line
                                                timm.layers.pos_embed.resample_abs_pos_embed(
                                                pos_embed, [16, 16]) (bicubic, antialiased)
    x_norm_patchtokens  float32 (2, 256, 32)    encoder.forward_features(preprocess_raw_image(
                                                images as float32, "dinov2-vit-b"))["x_norm_patchtokens"]
  preprocess_raw_image is REPA's own function, taken from train.py's source (its other imports
  are not needed for it): x / 255, Normalize(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD), then
  F.interpolate(x, 224 * (256 // 256), mode="bicubic"). Float32 on the CPU; the script prints the
  largest difference from a float64 run, a guide to test tolerances.
"""

import ast
import os
import sys
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from dinov2.layers import MemEffAttention, NestedTensorBlock as Block
from dinov2.models.vision_transformer import DinoVisionTransformer
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers.pos_embed import resample_abs_pos_embed
from torchvision.transforms import Normalize

here = os.path.dirname(os.path.abspath(__file__))


def repa_function(repa_dir, name):
    """The function `name` of REPA's train.py, compiled from its source alone."""
    with open(os.path.join(repa_dir, "train.py")) as f:
        tree = ast.parse(f.read())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    namespace = {"torch": torch, "Normalize": Normalize, "IMAGENET_DEFAULT_MEAN": IMAGENET_DEFAULT_MEAN,
                 "IMAGENET_DEFAULT_STD": IMAGENET_DEFAULT_STD}
    exec(compile(ast.Module(body=[node], type_ignores=[]), "train.py", "exec"), namespace)
    return namespace[name]


def make_model():
    return DinoVisionTransformer(img_size=518, patch_size=14, embed_dim=32, depth=2, num_heads=2, mlp_ratio=4,
                                 block_fn=partial(Block, attn_class=MemEffAttention), init_values=1.0,
                                 ffn_layer="mlp", block_chunks=0, num_register_tokens=0,
                                 interpolate_antialias=False, interpolate_offset=0.1)


def run(state_dict, images, preprocess_raw_image, dtype):
    encoder = make_model()
    encoder.load_state_dict(state_dict)
    # utils.load_encoders, the DINOv2 branch, at resolution 256:
    del encoder.head
    patch_resolution = 16 * (256 // 256)
    encoder.pos_embed.data = resample_abs_pos_embed(encoder.pos_embed.data, [patch_resolution, patch_resolution])
    encoder.head = torch.nn.Identity()
    encoder = encoder.to(dtype).eval()
    with torch.no_grad():
        raw_image_ = preprocess_raw_image(images.to(dtype), "dinov2-vit-b")
        z = encoder.forward_features(raw_image_)["x_norm_patchtokens"]
    return encoder.pos_embed.detach(), z


def main():
    preprocess_raw_image = repa_function(sys.argv[1], "preprocess_raw_image")
    torch.manual_seed(0)
    model = make_model()
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if name.endswith("gamma") or (name.startswith(("norm.", "blocks")) and "norm" in name and
                                          name.endswith("weight")):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name == "pos_embed":
                p.normal_(0, 0.5)
            else:
                p.normal_(0, 0.1)
    state_dict = model.state_dict()
    torch.save(state_dict, os.path.join(here, "dinov2_random.pth"))

    torch.manual_seed(1)
    images = F.interpolate(torch.rand(2, 3, 8, 8), size=(256, 256), mode="bilinear", align_corners=False)
    images = (images * 255).round().to(torch.uint8)

    pos_embed, z = run(state_dict, images, preprocess_raw_image, torch.float32)
    pos_embed64, z64 = run(state_dict, images, preprocess_raw_image, torch.float64)
    print(f"pos_embed: float32 vs float64 max abs difference {(pos_embed.double() - pos_embed64).abs().max():.3g}")
    print(f"x_norm_patchtokens: float32 vs float64 max abs difference {(z.double() - z64).abs().max():.3g}, "
          f"max abs value {z.abs().max():.3g}")
    np.savez_compressed(os.path.join(here, "dinov2_reference.npz"), images=images.numpy(),
                        pos_embed=pos_embed.numpy(), x_norm_patchtokens=z.numpy())


if __name__ == "__main__":
    main()
