#!/usr/bin/python3
"""Makes the PIL reference crops and resizes that tests/data_sources/test_image.cpp checks.

Run with Debian's interpreter (python3-pil 9.4, python3-numpy) from this folder:
    /usr/bin/python3 make_pil_reference.py
Writes pil/*.png (inputs and PIL's results) and pil/cases.txt, one case a line:
    crop <input> <image_size> <expected>        ADM center_crop_arr, as in the official train.py
    resize <input> <box|bicubic> <width> <height> <expected>
"""
import os

import numpy as np
from PIL import Image

OUT = "pil"


def center_crop_arr(pil_image, image_size):
    # Verbatim from the official SiT train.py (ADM's image_datasets.py).
    while min(*pil_image.size) >= 2 * image_size:
        pil_image = pil_image.resize(tuple(x // 2 for x in pil_image.size), resample=Image.BOX)
    scale = image_size / min(*pil_image.size)
    pil_image = pil_image.resize(tuple(round(x * scale) for x in pil_image.size), resample=Image.BICUBIC)
    arr = np.array(pil_image)
    crop_y = (arr.shape[0] - image_size) // 2
    crop_x = (arr.shape[1] - image_size) // 2
    return Image.fromarray(arr[crop_y: crop_y + image_size, crop_x: crop_x + image_size])


def pattern(rng, height, width, channels, noise=30):
    """Gradients, a checkerboard (hard edges: bicubic overshoots and clips) and noise."""
    y, x = np.mgrid[0:height, 0:width]
    planes = []
    for c in range(channels):
        smooth = 127 + 100 * np.sin(x / (3.0 + c) + y / (5.0 + 2 * c))
        checker = np.where(((x // 4) + (y // 3)) % 2 == 0, 70.0, -70.0) * (c % 2 * 2 - 1)
        planes.append(smooth + checker + rng.integers(-noise, noise + 1, size=(height, width)))
    return np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)


def main():
    rng = np.random.default_rng(20240527)
    os.makedirs(OUT, exist_ok=True)
    inputs = {
        "rgb_130x97.png": Image.fromarray(pattern(rng, 97, 130, 3), "RGB"),
        "rgb_45x67.png": Image.fromarray(pattern(rng, 67, 45, 3), "RGB"),
        "gray_80x80.png": Image.fromarray(pattern(rng, 80, 80, 1)[..., 0], "L"),
        "rgba_70x50.png": Image.fromarray(pattern(rng, 50, 70, 4), "RGBA"),
        "palette_33x29.png": Image.fromarray(pattern(rng, 29, 33, 3), "RGB").quantize(colors=50),
        "rgb_19x16.png": Image.fromarray(pattern(rng, 16, 19, 3), "RGB"),
        "rgb_200x150.png": Image.fromarray(pattern(rng, 150, 200, 3, noise=3), "RGB"),
    }
    for name, image in inputs.items():
        image.save(os.path.join(OUT, name))

    crops = [
        ("rgb_130x97.png", 32),    # one box halving (97 >= 64), then bicubic down by 2/3
        ("rgb_45x67.png", 32),     # bicubic upscaling
        ("gray_80x80.png", 40),    # box halving to exactly 40: the bicubic resize is the identity
        ("rgba_70x50.png", 24),    # alpha dropped, box halving of odd widths (35 -> 17)
        ("palette_33x29.png", 16),  # palette expanded
        ("rgb_19x16.png", 24),     # 19 * 1.5 = 28.5: Python's round gives 28 (ties to even)
        ("rgb_200x150.png", 32),   # box halving twice (150 -> 75 -> 37)
        ("rgb_200x150.png", 75),   # box halving once to 100x75: the bicubic resize is the identity
    ]
    resizes = [
        ("rgb_130x97.png", "bicubic", 23, 41),   # down horizontally, up vertically
        ("rgb_130x97.png", "bicubic", 13, 9),    # strong antialiased downscale (support 20)
        ("rgb_130x97.png", "box", 17, 12),       # non-integer box factors
        ("gray_80x80.png", "bicubic", 80, 31),   # vertical pass only
    ]
    lines = []
    for name, size in crops:
        image = Image.open(os.path.join(OUT, name)).convert("RGB")
        expected = f"crop{size}_{name}"
        center_crop_arr(image, size).save(os.path.join(OUT, expected))
        lines.append(f"crop {name} {size} {expected}")
    filters = {"box": Image.BOX, "bicubic": Image.BICUBIC}
    for name, filter_name, width, height in resizes:
        image = Image.open(os.path.join(OUT, name)).convert("RGB")
        expected = f"{filter_name}{width}x{height}_{name}"
        image.resize((width, height), resample=filters[filter_name]).save(os.path.join(OUT, expected))
        lines.append(f"resize {name} {filter_name} {width} {height} {expected}")
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
