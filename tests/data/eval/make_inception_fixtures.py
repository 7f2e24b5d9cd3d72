"""Reference outputs of pytorch-fid's FID Inception-v3 (random weights) and of the ADM evaluator's
metrics, for the C++ port's tests.

Needs: torch 1.13.1, torchvision 0.14.1, numpy, scipy 1.10, pytorch_fid 0.3.0 and (optional, for
one FID cross-check) torch_fidelity 0.4.0; no network access (the FID weight download is replaced,
see below). resize_reference.npz (from make_resize_reference.py, run first) must be next to this
script. Made with, from the repository root:

    PYTHONPATH=/work/pyfix /usr/bin/python3 tests/data/eval/make_inception_fixtures.py

Writes, next to this script:

inception_random.pt  torch.save(state_dict) (zip format) of pytorch-fid's FID Inception
  (pytorch_fid.inception.fid_inception_v3(): torchvision inception_v3(num_classes=1008,
  aux_logits=False) with Mixed_5b/5c/5d = FIDInceptionA, Mixed_6b..6e = FIDInceptionC,
  Mixed_7b = FIDInceptionE_1, Mixed_7c = FIDInceptionE_2); the same 566 keys, shapes and order as
  pt_inception-2015-12-05-6726825d.pth, including the int64 bn.num_batches_tracked (all 0).
  Random values, torch.manual_seed(0), drawn key by key in state-dict order:
  conv weight N(0, 2 / fan_in) (fan_in = in_ch * kh * kw), BN weight U(0.5, 1.5), BN bias
  N(0, 0.1^2), running_mean N(0, 0.1^2), running_var U(0.5, 1.5), fc.weight N(0, 1 / 2048),
  fc.bias N(0, 0.1^2) (these scales keep activations O(1): pool_3 mean ~0.33, std ~0.5).
  To keep the file small every tensor with more than 3072 elements is a torch.as_strided view of
  its own storage of 3072 random float32 values (fc.weight: 4096, so its strides are (2, 1);
  with 3072 they would be (1, 1), a symmetric Hankel block). Strides (overlapping_strides) are
  chosen from the last dimension backwards: each is the contiguous stride if that still leaves
  room for stride 1 on every dimension in front of it, else the largest that does; so every
  dimension of size > 1 has stride >= 1 (changing any index changes the value), the largest
  offset is < the storage size, and rows overlap, e.g. Mixed_7c.branch3x3dbl_2.conv.weight
  (384, 448, 3, 3) has strides (2, 5, 3, 1). Storage offsets are 0. A loader must honour the
  strides; torch.load gives back exactly these views (checked).

inception_reference.npz  (images uint8 (3, 28, 28, 3), np.random.RandomState(1).randint(0, 256);
  the same array as resize_reference.npz's inception_images, which is checked)
  pytorch-fid path: pytorch_fid.inception.InceptionV3([3], resize_input=True, normalize_input=True)
  with the weights above, fed images / 255 as NCHW float32 (so F.interpolate bilinear
  align_corners=False to 299x299, then 2x - 1):
    pool_3   float32 (3, 2048)   the 2048-d average-pool features
    logits   float32 (3, 1008)   pool_3 @ fc.weight.T, NO bias (ADM's softmax/logits/MatMul input)
    spatial  float32 (3, 2023)   Mixed_6d.branch1x1 output (conv + BN + ReLU), first 7 channels,
                                 as NHWC (3, 17, 17, 7) flattened: ADM's mixed_6/conv[..., :7]
  ADM path: same network via InceptionV3([3], resize_input=False, normalize_input=False), fed
  (tf1_resize(images as float32 in [0, 255]) - 128) / 128 as NCHW, where tf1_resize is TF1's
  ResizeBilinear(align_corners=False, half_pixel_centers=False) to 299x299 (the NumPy port in
  make_resize_reference.py, bit-identical to TensorFlow there and re-checked here):
    adm_pool_3 float32 (3, 2048), adm_logits float32 (3, 1008), adm_spatial float32 (3, 2023)
  All computed in float32 on CPU (default torch threads); the self-check prints the largest
  difference from the same computation in float64, a guide to test tolerances.

metrics_reference.npz  (no network; np.random.RandomState(2) draws ref, sample, logits in order)
    ref      float32 (300, 16)  N(0, 1)
    sample   float32 (250, 16)  1.2 * N(0, 1) + 0.3
    fid_adm             float64 ()  ADM FIDStatistics.frechet_distance (scipy.linalg.sqrtm) with
                                    ADM's statistics: mu = np.mean(float32 features, 0) (float32),
                                    sigma = np.cov(features, rowvar=False) (float64), sample vs ref
    fid_pytorch_fid     float64 ()  pytorch_fid.fid_score.calculate_frechet_distance, same stats
    fid_torch_fidelity  float64 ()  torch_fidelity.metric_fid.fid_statistics_to_metric, same stats
                                    (eigenvalue formula; NaN if torch_fidelity does not import)
    logits   float32 (250, 10)  3 * N(0, 1)
    inception_score_split100   float64 ()  ADM compute_inception_score(split_size=100) on
                               softmax(logits) (float32 softmax, float32 numpy as in ADM):
                               splits of 100, 100, 50 rows, mean over splits of exp(mean_i KL)
    inception_score_split5000  float64 ()  the same with one split (ADM's default)
    precision, recall          float64 ()  ADM ManifoldEstimator, nhood_sizes=(3,), float32
                               distances max(|u|^2 - 2 u.v + |v|^2, 0); a row's radius is element
                               [3] of its sorted distances to its own set (self included);
                               precision = fraction of sample rows with distance <= radius of
                               some ref row; recall = fraction of ref rows within some sample's
    precision_fp16, recall_fp16  float64 ()  ADM's default branch: features cast to float16,
                               norms, matmul and the formula evaluated in NumPy float16, result cast
                               to float32 (ADM takes this branch whenever it is finite). NumPy
                               rounds each float16 op (and its float16 matmul/sum reduce in its own
                               order) while TF's GPU fp16 kernels accumulate differently (often in
                               float32), so these two are only indicative.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg

import pytorch_fid.inception as pfi
from pytorch_fid.fid_score import calculate_frechet_distance

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # leave no __pycache__ next to the fixtures
sys.path.insert(0, HERE)
from make_resize_reference import tf1_resize_bilinear_np  # noqa: E402  (no TensorFlow needed)

STORAGE = 3072
FC_STORAGE = 4096


def out(name):
    return os.path.join(HERE, name)


# ----------------------------------------------------------------------------- random weights

def fid_inception_skeleton():
    """The module fid_inception_v3() builds, before it loads weights (same construction)."""
    inception = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    inception.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    inception.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    inception.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    inception.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    inception.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    inception.Mixed_7b = pfi.FIDInceptionE_1(1280)
    inception.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return inception


def overlapping_strides(shape, storage=STORAGE):
    """Strides with max offset < storage, every stride of a size>1 dim >= 1 (see docstring)."""
    strides = [0] * len(shape)
    used = 0  # largest offset reachable by the dims already placed (those behind)
    for k in range(len(shape) - 1, -1, -1):
        d = shape[k]
        if d == 1:
            strides[k] = used + 1  # irrelevant for size 1; the contiguous value
            continue
        reserve = sum(s - 1 for s in shape[:k])  # stride 1 for every dim in front
        avail = storage - 1 - used - reserve
        stride = min(used + 1, avail // (d - 1))
        assert stride >= 1, (shape, k)
        strides[k] = stride
        used += (d - 1) * stride
    assert used < storage
    return tuple(strides)


def strided_shape_view(values, shape):
    strides = overlapping_strides(shape, values.numel())
    assert all(s >= 1 for s in strides)
    assert sum((d - 1) * s for d, s in zip(shape, strides)) < values.numel()
    return torch.as_strided(values, tuple(shape), strides)


def random_like(name, ref):
    shape = tuple(ref.shape)
    if name.endswith("num_batches_tracked"):
        return torch.zeros_like(ref)
    n = int(np.prod(shape))
    count = (FC_STORAGE if name == "fc.weight" else STORAGE) if n > STORAGE else n
    if name == "fc.weight":
        values = torch.randn(count) * (1.0 / 2048) ** 0.5
    elif name == "fc.bias":
        values = torch.randn(count) * 0.1
    elif name.endswith("conv.weight"):
        fan_in = int(np.prod(shape[1:]))
        values = torch.randn(count) * (2.0 / fan_in) ** 0.5
    elif name.endswith("bn.weight") or name.endswith("bn.running_var"):
        values = torch.rand(count) + 0.5
    elif name.endswith("bn.bias") or name.endswith("bn.running_mean"):
        values = torch.randn(count) * 0.1
    else:
        raise KeyError(name)
    if n > STORAGE:
        return strided_shape_view(values, shape)
    return values.reshape(shape)


def make_state_dict():
    skeleton = fid_inception_skeleton().state_dict()
    torch.manual_seed(0)
    return type(skeleton)((k, random_like(k, v)) for k, v in skeleton.items())


# ----------------------------------------------------------------------------- network outputs

def build_models(state_dict):
    """InceptionV3 as pytorch-fid builds it, with its download replaced by our state dict."""
    original = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = lambda *a, **k: {k2: v.clone() for k2, v in state_dict.items()}
    try:
        fid_mode = pfi.InceptionV3([3], resize_input=True, normalize_input=True).eval()
        adm_mode = pfi.InceptionV3([3], resize_input=False, normalize_input=False).eval()
    finally:
        pfi.load_state_dict_from_url = original
    return fid_mode, adm_mode


def run(model, x, fc_weight):
    """pool_3, bias-free logits, and ADM's spatial slice (Mixed_6d.branch1x1, NHWC, 7 channels)."""
    mixed_6d = model.blocks[2][6]
    assert isinstance(mixed_6d, pfi.FIDInceptionC) and mixed_6d.branch1x1.conv.out_channels == 192
    captured = {}
    hook = mixed_6d.branch1x1.register_forward_hook(lambda m, i, o: captured.setdefault("s", o))
    try:
        with torch.no_grad():
            pool = model(x)[0]
    finally:
        hook.remove()
    pool = pool.reshape(pool.shape[0], -1)
    spatial = captured["s"][:, :7].permute(0, 2, 3, 1).reshape(x.shape[0], -1)
    logits = pool @ fc_weight.to(pool.dtype).t()
    return pool.numpy(), logits.numpy(), spatial.numpy()


def inception_reference(state_dict):
    images = np.random.RandomState(1).randint(0, 256, size=(3, 28, 28, 3), dtype=np.uint8)
    rz = np.load(out("resize_reference.npz"))
    assert np.array_equal(rz["inception_images"], images), "resize_reference.npz is stale"
    for key in "abc":
        expected = rz[f"resized_{key}"]
        assert np.array_equal(tf1_resize_bilinear_np(rz[f"images_{key}"], expected.shape[1:3]), expected)

    fid_mode, adm_mode = build_models(state_dict)
    fc_weight = state_dict["fc.weight"]
    x_fid = torch.from_numpy(images.astype(np.float32) / np.float32(255)).permute(0, 3, 1, 2)
    resized = tf1_resize_bilinear_np(images.astype(np.float32))
    x_adm = torch.from_numpy((resized - np.float32(128)) / np.float32(128)).permute(0, 3, 1, 2)
    x_fid, x_adm = x_fid.contiguous(), x_adm.contiguous()

    arrays = {"images": images}
    for prefix, model, x in (("", fid_mode, x_fid), ("adm_", adm_mode, x_adm)):
        pool, logits, spatial = run(model, x, fc_weight)
        arrays[prefix + "pool_3"] = pool.astype(np.float32)
        arrays[prefix + "logits"] = logits.astype(np.float32)
        arrays[prefix + "spatial"] = spatial.astype(np.float32)
        # Same computation in float64, to show how far float32 rounding moves the references.
        pool64, logits64, spatial64 = run(model.double(), x.double(), fc_weight)
        model.float()
        for name, a, b in (("pool_3", pool, pool64), ("logits", logits, logits64),
                           ("spatial", spatial, spatial64)):
            print(f"  {prefix}{name}: mean {a.mean():.4f} std {a.std():.4f} max {a.max():.4f}; "
                  f"float32 vs float64 max |diff| {np.abs(a - b).max():.3g} "
                  f"(rel {np.abs(a - b).max() / np.abs(b).max():.3g})")
    return arrays


# ----------------------------------------------------------------------------- ADM metrics

def adm_stats(features):
    return np.mean(features, axis=0), np.cov(features, rowvar=False)


def adm_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """FIDStatistics.frechet_distance of the ADM evaluator (same steps)."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("imaginary component")
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def softmax32(logits):
    z = logits.astype(np.float32)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def adm_inception_score(preds, split_size):
    """compute_inception_score of the ADM evaluator after its softmax."""
    scores = []
    for i in range(0, len(preds), split_size):
        part = preds[i:i + split_size]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        kl = np.mean(np.sum(kl, 1))
        scores.append(np.exp(kl))
    return float(np.mean(scores))


def pairwise_distances(u, v, dtype):
    u, v = u.astype(dtype), v.astype(dtype)
    norm_u = np.sum(np.square(u), 1).reshape(-1, 1)
    norm_v = np.sum(np.square(v), 1).reshape(1, -1)
    d = np.maximum(norm_u - dtype(2) * np.matmul(u, v.T) + norm_v, dtype(0))
    assert d.dtype == dtype and np.isfinite(d).all()
    return d.astype(np.float32)


def adm_precision_recall(ref, sample, dtype, k=3):
    def radii(f):
        d = pairwise_distances(f, f, dtype)
        return np.partition(d, np.arange(k + 1), axis=1)[:, k]

    r_ref, r_sample = radii(ref), radii(sample)
    d = pairwise_distances(ref, sample, dtype)  # [n_ref, n_sample]
    sample_in = np.any(d <= r_ref[:, None], axis=0)  # sample j inside some ref ball
    ref_in = np.any(d <= r_sample[None, :], axis=1)  # ref i inside some sample ball
    return float(np.mean(sample_in.astype(np.float64))), float(np.mean(ref_in.astype(np.float64)))


def metrics_reference():
    rng = np.random.RandomState(2)
    ref = rng.randn(300, 16).astype(np.float32)
    sample = (rng.randn(250, 16) * 1.2 + 0.3).astype(np.float32)
    logits = (rng.randn(250, 10) * 3).astype(np.float32)

    mu_s, sig_s = adm_stats(sample)
    mu_r, sig_r = adm_stats(ref)
    assert mu_s.dtype == np.float32 and sig_s.dtype == np.float64
    fid_adm = float(adm_frechet_distance(mu_s, sig_s, mu_r, sig_r))
    fid_pf = float(calculate_frechet_distance(mu_s, sig_s, mu_r, sig_r))
    try:
        from torch_fidelity.metric_fid import fid_statistics_to_metric, KEY_METRIC_FID
        fid_tf = float(fid_statistics_to_metric({"mu": mu_s, "sigma": sig_s},
                                                {"mu": mu_r, "sigma": sig_r},
                                                verbose=False)[KEY_METRIC_FID])
    except ImportError as e:
        print("torch_fidelity not importable:", e)
        fid_tf = float("nan")
    fid_64 = float(adm_frechet_distance(mu_s.astype(np.float64), sig_s,
                                        mu_r.astype(np.float64), sig_r))

    preds = softmax32(logits)
    is100 = adm_inception_score(preds, 100)
    is5000 = adm_inception_score(preds, 5000)
    is100_64 = adm_inception_score(softmax32(logits).astype(np.float64), 100)

    p32, r32 = adm_precision_recall(ref, sample, np.float32)
    p16, r16 = adm_precision_recall(ref, sample, np.float16)
    p64, r64 = adm_precision_recall(ref.astype(np.float64), sample.astype(np.float64), np.float64)
    assert 0 < p32 < 1 and 0 < r32 < 1

    print(f"  FID adm {fid_adm!r} pytorch-fid {fid_pf!r} torch-fidelity {fid_tf!r} "
          f"(float64 mu: {fid_64!r})")
    for name, v in (("pytorch-fid", fid_pf), ("torch-fidelity", fid_tf)):
        rel = abs(v - fid_adm) / abs(fid_adm)
        print(f"    {name} vs adm: rel {rel:.3g}")
        assert not (rel > 1e-6), name
    print(f"  IS split100 {is100!r} (float64 KL: {is100_64!r}), split5000 {is5000!r}")
    print(f"  precision/recall float32 {p32}/{r32}, fp16 {p16}/{r16}, float64 {p64}/{r64}")
    f64 = np.float64
    return {
        "ref": ref, "sample": sample,
        "fid_adm": f64(fid_adm), "fid_pytorch_fid": f64(fid_pf), "fid_torch_fidelity": f64(fid_tf),
        "logits": logits,
        "inception_score_split100": f64(is100), "inception_score_split5000": f64(is5000),
        "precision": f64(p32), "recall": f64(r32),
        "precision_fp16": f64(p16), "recall_fp16": f64(r16),
    }


# ----------------------------------------------------------------------------- main

def save_npz(name, arrays):
    path = out(name)
    np.savez(path, **arrays)
    print(f"wrote {path} ({os.path.getsize(path)} bytes):")
    for k, v in arrays.items():
        print(f"    {k} {v.dtype} {v.shape}")


def main():
    state_dict = make_state_dict()
    assert len(state_dict) == 566
    path = out("inception_random.pt")
    torch.save(state_dict, path)
    size = os.path.getsize(path)
    print(f"wrote {path} ({size} bytes)")
    assert size < 2 * 1024 * 1024
    loaded = torch.load(path)
    assert list(loaded) == list(state_dict)
    for k, v in state_dict.items():
        w = loaded[k]
        assert w.dtype == v.dtype and w.shape == v.shape and w.stride() == v.stride(), k
        assert torch.equal(w, v), k

    print("inception_reference.npz:")
    inc = inception_reference(state_dict)
    save_npz("inception_reference.npz", inc)
    d = np.abs(inc["pool_3"] - inc["adm_pool_3"])
    print(f"  pytorch-fid path vs ADM path pool_3: max |diff| {d.max():.4g}, mean {d.mean():.4g}"
          " (different resize and input scaling, expected to differ)")

    print("metrics_reference.npz:")
    save_npz("metrics_reference.npz", metrics_reference())


if __name__ == "__main__":
    main()
