"""Writes the reference files the io tests read: run once with a Python that has numpy and torch 1.13
(Debian's /usr/bin/python3), from any directory; outputs land next to this script. ckpt.pt is a
copy of the official-code fixture shared/fixtures/cases/ode_linear_velocity_euler/ckpt.pt.

Every array is a simple closed form (arange, affine maps) that the C++ tests rebuild independently,
so a test compares our reader's values with numbers it computes itself, not with our own writer.
"""
import argparse
import collections
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def out(name):
    return os.path.join(HERE, name)


def reference_arrays():
    """The arrays of arrays.npz; test_npy.cpp rebuilds each from the same formula."""
    return collections.OrderedDict([
        ("f4", (np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1.0)),
        ("f8", np.arange(4, dtype=np.float64) / 3.0),
        ("f2", np.arange(5, dtype=np.float16) * np.float16(0.25)),
        ("i8", np.arange(6, dtype=np.int64).reshape(3, 2) * -(2 ** 40)),
        ("i4", np.arange(4, dtype=np.int32) - 2),
        ("u1", np.arange(250, 256, dtype=np.uint8)),
        ("b1", np.array([True, False, True], dtype=np.bool_)),
        ("scalar", np.array(7.5, dtype=np.float32)),
        ("empty", np.zeros((0, 3), dtype=np.float32)),
    ])


def write_npy_fixtures():
    arrays = reference_arrays()
    for name, array in arrays.items():
        np.save(out("npy_%s.npy" % name), array)
    for version in [(2, 0), (3, 0)]:
        with open(out("npy_v%d.npy" % version[0]), "wb") as f:
            np.lib.format.write_array(f, arrays["f4"], version=version)
    np.save(out("npy_fortran.npy"), np.asfortranarray(arrays["f4"]))
    np.save(out("npy_big_endian.npy"), arrays["f4"].astype(">f4"))
    np.savez(out("arrays.npz"), **arrays)
    np.savez_compressed(out("arrays_deflated.npz"), **arrays)


def write_zip64_fixture():
    """A small archive with zip64 extra fields and end records, as Python writes past 2 GiB."""
    saved = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = 0  # treat every size and offset as large
    try:
        with zipfile.ZipFile(out("zip64.zip"), "w", zipfile.ZIP_STORED, allowZip64=True) as z:
            z.writestr("first.txt", b"hello zip64")
            z.writestr("second.bin", bytes(range(256)))
    finally:
        zipfile.ZIP64_LIMIT = saved



def tensor_values():
    """The tensors of tensors.pt; test_torch_load.cpp rebuilds each from the same formula."""
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8 - 1
    return collections.OrderedDict([
        ("f32", base),
        ("transposed", base.t()),  # a view sharing f32's storage, strides (1, 6)
        ("sliced", base[1:, 2:5]),  # storage offset 8, strides (6, 1)
        ("expanded", torch.arange(3, dtype=torch.float32).reshape(3, 1).expand(3, 4)),  # stride 0
        ("f16", torch.arange(6, dtype=torch.float16) / 4),
        ("bf16", torch.arange(6, dtype=torch.bfloat16) / 4 - 1),
        ("f64", torch.arange(5, dtype=torch.float64) / 3),
        ("i64", torch.arange(4, dtype=torch.int64) * -(2 ** 40)),
        ("i32", torch.arange(4, dtype=torch.int32) - 2),
        ("i16", torch.arange(3, dtype=torch.int16) * 1000),
        ("i8", torch.arange(3, dtype=torch.int8) - 100),
        ("u8", torch.arange(250, 256, dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True])),
        ("scalar", torch.tensor(3.5)),
        ("empty", torch.zeros(0, 3)),
        ("parameter", torch.nn.Parameter(torch.arange(3, dtype=torch.float32))),
    ])


def write_tensors_fixture():
    """Every dtype and layout, plus the Python values a checkpoint's other entries hold."""
    values = tensor_values()
    values.update([
        ("int", 7), ("big_int", 2 ** 40), ("negative", -5), ("float", 0.25), ("str", "h\u00e9llo"),
        ("none", None), ("true", True), ("list", [1, 2.5, "x"]), ("tuple", (1, (2, 3))),
        ("nested", {"a": {"b": 1}}),
        ("namespace", argparse.Namespace(lr=1e-4, model="SiT-XL/2")),
        ("numpy_scalar", np.float64(1.5)),
    ])
    torch.save(values, out("tensors.pt"))


class TinyModel(torch.nn.Sequential):
    """Linear(3, 4), LayerNorm(4), BatchNorm1d(4): parameters and buffers, incl. an int64 one."""

    def __init__(self):
        super().__init__(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.BatchNorm1d(4))


def formula_state_dict(model, sign):
    """Entry k of the state dict: sign * (arange(numel) / 16 + k), or k + (sign < 0) * 100 for ints."""
    with torch.no_grad():
        for k, tensor in enumerate(model.state_dict().values()):
            if tensor.is_floating_point():
                tensor.copy_(sign * (torch.arange(tensor.numel(), dtype=torch.float32).reshape(tensor.shape) / 16 + k))
            else:
                tensor.fill_(k + (100 if sign < 0 else 0))
    return model.state_dict()


def write_checkpoint_fixtures():
    """A checkpoint laid out as the official train.py saves it, and a DDP-prefixed state dict."""
    model, ema = TinyModel(), TinyModel()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0)
    model(torch.ones(2, 3)).sum().backward()
    opt.step()
    checkpoint = {
        "model": formula_state_dict(model, 1),
        "ema": formula_state_dict(ema, -1),
        "opt": opt.state_dict(),
        "args": argparse.Namespace(model="SiT-XS/2", image_size=32, num_classes=10, global_seed=0, ckpt=None),
    }
    torch.save(checkpoint, out("train_checkpoint.pt"))
    ddp = collections.OrderedDict(("module." + k, v) for k, v in checkpoint["model"].items())
    torch.save(ddp, out("ddp_state_dict.pt"))
    torch.save(torch.ones(2), out("legacy.pt"), _use_new_zipfile_serialization=False)


def write_train_py_checkpoint():
    """train_py_checkpoint.pt: a checkpoint as the official train.py saves it, around the tiny model
    of the sampler fixtures (ode_linear_velocity_euler/ckpt.pt: hidden 64, 4 heads, patch 4, 16x16x4
    latents, 10 classes and the null row). Its args hold train.py's flags as parse_args() leaves them,
    except "model": no preset has this model's dimensions, so the key is left out (the weights' shapes
    give the architecture). image_size 128 is what 16x16 latents mean (8 x 16)."""
    state_dict = torch.load(os.path.join(HERE, "../fixtures/cases/ode_linear_velocity_euler/ckpt.pt"),
                            map_location="cpu")
    args = argparse.Namespace(
        data_path="/data/imagenet/train", results_dir="results", image_size=128, num_classes=10,
        epochs=1, global_batch_size=256, global_seed=0, vae="ema", num_workers=4, log_every=100,
        ckpt_every=50_000, sample_every=10_000, cfg_scale=4.0, wandb=False, ckpt=None,
        path_type="GVP", prediction="velocity", loss_weight=None, sample_eps=None, train_eps=None)
    torch.save({"model": state_dict, "ema": state_dict, "opt": {}, "args": args}, out("train_py_checkpoint.pt"))


def write_fork_checkpoint():
    """fork_train_py_checkpoint.pt: train_py_checkpoint.pt as a research fork's train.py saves it,
    whose args.model is the fork's own entry of SiT_models ("SiT-T/2"), not a preset."""
    checkpoint = torch.load(out("train_py_checkpoint.pt"), map_location="cpu")
    checkpoint["args"].model = "SiT-T/2"
    torch.save(checkpoint, out("fork_train_py_checkpoint.pt"))


def write_official_checkpoint_reference():
    """Per-tensor statistics of ckpt.pt (copied from the official SiT fixtures), computed in float64:
    the sum and the index-weighted sum sum_i i * x_i (sensitive to order) of the flattened tensor."""
    state_dict = torch.load(out("ckpt.pt"), map_location="cpu")
    reference = collections.OrderedDict()
    for key, tensor in state_dict.items():
        flat = tensor.detach().double().flatten()
        reference[key] = {
            "shape": list(tensor.shape),
            "dtype": str(tensor.dtype).replace("torch.", ""),
            "sum": flat.sum().item(),
            "weighted_sum": (flat * torch.arange(flat.numel(), dtype=torch.float64)).sum().item(),
            "first": flat[0].item(),
            "last": flat[-1].item(),
        }
    with open(out("ckpt_reference.json"), "w") as f:
        json.dump(reference, f, indent=1)


def write_pickle_fixtures():
    """Plain pickles (no torch) in protocols 2 and 4, checked opcode by opcode in test_pickle.cpp."""
    shared = [1, 2]
    value = {
        "ints": [0, 255, 256, 65535, 65536, -1, -2 ** 31, 2 ** 31, -2 ** 40, 2 ** 63 - 1, -2 ** 63],
        "float": -1.25, "str": "h\u00e9llo", "none": None, "bools": (True, False),
        "ordered": collections.OrderedDict([("x", 1), ("y", 2)]),
        "namespace": argparse.Namespace(k=1), "shared": [shared, shared], "tuple4": (1, 2, 3, 4),
    }
    for protocol in (2, 4):
        with open(out("pickle_p%d.pkl" % protocol), "wb") as f:
            pickle.dump(dict(value, bytes=b"\x00\xff"), f, protocol=protocol)
    with open(out("pickle_p0.pkl"), "wb") as f:
        pickle.dump([1], f, protocol=0)


SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
                      torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
                      torch.uint8: "U8", torch.bool: "BOOL"}


def write_safetensors(path, tensors, metadata):
    """The safetensors layout, written here from the format description (no safetensors package on
    this machine): u64 header length, JSON header (sorted names), padding to 8 with spaces, data."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        tensor = tensors[name].detach().contiguous()
        raw = tensor.view(torch.int16) if tensor.dtype == torch.bfloat16 else tensor
        blob = raw.numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write_safetensors_fixtures(vae_pt):
    """dtypes.safetensors: the tensors of tensors.pt; vae_subset.*: the smallest tensors of the
    shared VAE fixture, in both formats."""
    write_safetensors(out("dtypes.safetensors"), tensor_values(), {"format": "pt", "note": "dtypes"})
    vae = torch.load(vae_pt, map_location="cpu")
    subset = collections.OrderedDict((k, v) for k, v in vae.items() if v.numel() <= 64)
    torch.save(subset, out("vae_subset.pt"))
    write_safetensors(out("vae_subset.safetensors"), subset, {"format": "pt"})


if __name__ == "__main__":
    torch.manual_seed(0)
    write_npy_fixtures()
    write_zip64_fixture()
    write_tensors_fixture()
    write_checkpoint_fixtures()
    write_train_py_checkpoint()
    write_fork_checkpoint()
    write_official_checkpoint_reference()
    write_pickle_fixtures()
    write_safetensors_fixtures(os.path.join(HERE, "../../../../shared/fixtures/vae/small/vae.pt"))
