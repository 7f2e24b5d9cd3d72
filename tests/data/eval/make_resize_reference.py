"""Reference for TensorFlow 1's bilinear resize as the ADM evaluator's Inception graph applies it.

The ADM evaluator (openai/guided-diffusion, evaluations/evaluator.py) feeds NHWC float32 images in
[0, 255] into classify_image_graph_def.pb at "ExpandDims:0"; the graph then resizes them to 299x299
with a ResizeBilinear op (align_corners=False, half_pixel_centers=False: TF1's "legacy" sampling,
source coordinate = dst * (in / out), no half-pixel offset) before its (x - 128) / 128 scaling.
This script runs that op through TensorFlow itself:

    tf.compat.v1.image.resize_bilinear(x, [299, 299], align_corners=False, half_pixel_centers=False)

Writes resize_reference.npz (np.savez, uncompressed) next to this script:
  images_a  uint8   (1, 28, 28, 3)    resized_a  float32 (1, 299, 299, 3)   upscaling to the graph's size
  images_b  uint8   (2, 64, 48, 3)    resized_b  float32 (2, 37, 53, 3)     non-square, a batch of 2
  images_c  uint8   (1, 320, 400, 3)  resized_c  float32 (1, 123, 157, 3)   downscaling
(the op is the graph's but for b and c at smaller output sizes, to keep the file near 1.2 MB)
  inception_images uint8 (3, 28, 28, 3)  the images of inception_reference.npz (see below)
images_a, images_b, images_c are drawn in that order from np.random.RandomState(0).randint(0, 256);
inception_images from np.random.RandomState(1).randint(0, 256, (3, 28, 28, 3)).

TF's resize of inception_images is NOT stored (it alone would be 3.2 MB). Instead this file
defines tf1_resize_bilinear_np, a NumPy transcription of TF's legacy kernel
(tensorflow/core/kernels/image/resize_bilinear_op.cc: float32 scale = in / out, src = dst * scale,
lower = floor(src), upper = min(ceil(src), in - 1), lerp = src - floor(src),
top = tl + (tr - tl) * xl, bottom = bl + (br - bl) * xl, out = top + (bottom - top) * yl,
all in float32), and asserts below that it is bit-identical to TensorFlow on every stored case and
on inception_images. make_inception_fixtures.py imports it (TensorFlow is imported only inside
main(), so the import works without TensorFlow) and re-checks it against resized_a/b/c.

Needs: TensorFlow (any 2.x; 2.21.0 CPU was used) and NumPy. Made with, from the repository root:

    /work/tfenv/bin/python tests/data/eval/make_resize_reference.py
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_SIZE = (299, 299)


def tf1_resize_bilinear_np(images, size=OUT_SIZE):
    """TF1 ResizeBilinear(align_corners=False, half_pixel_centers=False) on NHWC, in float32."""
    x = np.asarray(images, dtype=np.float32)
    n, in_h, in_w, c = x.shape
    out_h, out_w = size

    def weights(in_size, out_size):
        scale = np.float32(in_size) / np.float32(out_size)
        src = np.arange(out_size, dtype=np.float32) * scale
        src_floor = np.floor(src)
        lower = np.maximum(src_floor.astype(np.int64), 0)
        upper = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
        lerp = (src - src_floor).astype(np.float32)
        return lower, upper, lerp

    y0, y1, yl = weights(in_h, out_h)
    x0, x1, xl = weights(in_w, out_w)
    xl = xl[None, None, :, None]
    yl = yl[None, :, None, None]
    tl = x[:, y0][:, :, x0]
    tr = x[:, y0][:, :, x1]
    bl = x[:, y1][:, :, x0]
    br = x[:, y1][:, :, x1]
    top = tl + (tr - tl) * xl
    bottom = bl + (br - bl) * xl
    return (top + (bottom - top) * yl).astype(np.float32)


def make_images():
    rng = np.random.RandomState(0)
    images = {
        "a": rng.randint(0, 256, size=(1, 28, 28, 3), dtype=np.uint8),
        "b": rng.randint(0, 256, size=(2, 64, 48, 3), dtype=np.uint8),
        "c": rng.randint(0, 256, size=(1, 320, 400, 3), dtype=np.uint8),
    }
    inception = np.random.RandomState(1).randint(0, 256, size=(3, 28, 28, 3), dtype=np.uint8)
    return images, inception


def main():
    import tensorflow as tf

    def tf_resize(images_u8, size=OUT_SIZE):
        x = tf.constant(images_u8.astype(np.float32))
        y = tf.compat.v1.image.resize_bilinear(
            x, list(size), align_corners=False, half_pixel_centers=False)
        y = y.numpy()
        assert y.dtype == np.float32 and y.shape == (images_u8.shape[0],) + tuple(size) + (3,)
        # The raw op the graph holds gives the same thing.
        raw = tf.raw_ops.ResizeBilinear(images=x, size=list(size), align_corners=False,
                                        half_pixel_centers=False).numpy()
        assert np.array_equal(y, raw)
        return y

    images, inception = make_images()
    arrays = {}
    sizes = {"a": OUT_SIZE, "b": (37, 53), "c": (123, 157)}
    for key, imgs in images.items():
        resized = tf_resize(imgs, sizes[key])
        port = tf1_resize_bilinear_np(imgs, sizes[key])
        diff = np.abs(port - resized).max()
        print(f"case {key}: {imgs.shape} -> {resized.shape}, numpy port max |diff| = {diff}")
        assert np.array_equal(port, resized), key
        arrays[f"images_{key}"] = imgs
        arrays[f"resized_{key}"] = resized

    inc_resized = tf_resize(inception)
    assert np.array_equal(tf1_resize_bilinear_np(inception), inc_resized)
    print("inception_images: numpy port bit-identical to TF")
    arrays["inception_images"] = inception

    path = os.path.join(HERE, "resize_reference.npz")
    np.savez(path, **arrays)
    print(f"wrote {path} ({os.path.getsize(path)} bytes) with",
          {k: (v.shape, str(v.dtype)) for k, v in arrays.items()}, "tf", tf.__version__)


if __name__ == "__main__":
    main()
