"""Checks, with Python's torch.load, the file test_torch_load.cpp writes with sit::io::torch_save.
Usage: /usr/bin/python3 check_torch_save.py FILE; exits non-zero with the first difference."""
import argparse
import collections
import sys

import torch

loaded = torch.load(sys.argv[1])
w = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4
expected_model = collections.OrderedDict([
    ("w", w),
    ("h", torch.arange(4, dtype=torch.float16) / 2),
    ("b", torch.arange(3, dtype=torch.bfloat16) - 1),
    ("d", torch.arange(3, dtype=torch.float64) / 3),
    ("i", torch.arange(3, dtype=torch.int64) * 2 ** 40),
    ("n", torch.arange(3, dtype=torch.int32) - 1),
    ("u", torch.arange(3, dtype=torch.uint8) + 250),
    ("t", torch.tensor([True, False])),
    ("s", torch.tensor(2.5)),
    ("e", torch.zeros(0, 2)),
    ("v", torch.arange(12, dtype=torch.float32).reshape(3, 4).t()),
])
assert isinstance(loaded, dict) and not isinstance(loaded, collections.OrderedDict), type(loaded)
assert list(loaded) == ["model", "ema", "step", "lr", "name", "flags", "pair", "args"], list(loaded)
model = loaded["model"]
assert isinstance(model, collections.OrderedDict), type(model)
assert list(model) == list(expected_model), list(model)
for key, tensor in expected_model.items():
    assert model[key].dtype == tensor.dtype, (key, model[key].dtype)
    assert model[key].shape == tensor.shape, (key, model[key].shape)
    assert torch.equal(model[key], tensor), (key, model[key])
assert torch.equal(loaded["ema"]["w"], -w), loaded["ema"]
assert loaded["step"] == 10 and loaded["lr"] == 0.5 and loaded["name"] == "SiT", loaded
assert loaded["flags"] == [True, None] and loaded["pair"] == (1, 2), loaded
assert isinstance(loaded["args"], argparse.Namespace), type(loaded["args"])
assert vars(loaded["args"]) == {"model": "SiT-XL/2", "image_size": 256}, vars(loaded["args"])
print("torch.load read the file as expected")
