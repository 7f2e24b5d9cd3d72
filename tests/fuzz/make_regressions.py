#!/usr/bin/env python3
"""Writes the hand-made regression inputs of tests/fuzz/regressions/<harness>/, one per bug fixed
(the fuzzer's own crashing inputs are copied there as they are). Each name says what it did
before the fix; standard library only. Run from anywhere: python3 tests/fuzz/make_regressions.py"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "regressions")


def write(harness, name, data):
    os.makedirs(os.path.join(ROOT, harness), exist_ok=True)
    with open(os.path.join(ROOT, harness, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors):
    """tensors: name -> (dtype, shape, raw bytes), laid out in the given order."""
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


REBUILD = b"ctorch._utils\n_rebuild_tensor_v2\n"
ORDERED = b"ccollections\nOrderedDict\n)R"
STORAGE_ID = b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x10tQ"

# A list appended to itself through the memo: a reference cycle, leaked.
write("pickle", "self_cycle_leak", b"\x80\x02]q\x00h\x00a.")
# The same cycle popped off the stack, the result None: leaked garbage.
write("pickle", "cyclic_garbage_leak", b"\x80\x02]q\x00h\x00a0N.")
# 100000 nested lists: destroying the tree recursed 100000 deep and overflowed the stack.
write("pickle", "deep_nesting_stack_overflow", b"\x80\x02" + b"(" * 100000 + b"l" * 100000 + b".")
# A stride-0 view of 100 elements over a 16-element storage, then a view of that view at offset
# 99: checked against the first view's 100 elements, it read past the 16 of the storage.
write("pickle", "view_of_view_overflow",
      b"\x80\x02" + REBUILD + b"(" + STORAGE_ID + b"K\x00Kd\x85K\x00\x85\x89" + ORDERED + b"tRq\x00" +
      REBUILD + b"(h\x00Kc" + b"K\x01\x85K\x01\x85\x89" + ORDERED + b"tR.")
# Sizes whose product overflows int64 with stride 0 (the view stays inside the storage).
write("pickle", "numel_overflow",
      b"\x80\x02" + REBUILD + b"(" + STORAGE_ID + b"K\x00(\x8a\x05\x00\x00\x00\x00\x01\x8a\x05\x00\x00\x00\x00\x01t"
      b"(K\x00K\x00t\x89" + ORDERED + b"tR.")

# IDX dimensions 65536 x 65536 x 65536 (2^48 bytes) with no data: allocated before reading.
write("idx", "huge_dimensions", bytes([0, 0, 8, 3]) + struct.pack(">III", 65536, 65536, 65536))
# Dimensions whose product overflows int64.
write("idx", "dimension_overflow", bytes([0, 0, 8, 3]) + struct.pack(">III", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF))

# norm_num_groups 0: channels % 0, a division by zero (SIGFPE).
write("vae_config", "zero_norm_groups", '{"norm_num_groups": 0}')
# 70 blocks: downsample_factor shifted 1 by 69 bits (undefined behaviour).
write("vae_config", "shift_overflow", json.dumps({"block_out_channels": [1] * 70, "norm_num_groups": 1}))

F32 = lambda n: b"\x00" * (4 * n)  # noqa: E731
# Patch size 0 in x_embedder.proj.weight: rows / (p * p) divided by zero (SIGFPE).
write("load_sit", "zero_patch_size", safetensors({
    "x_embedder.proj.weight": ("F32", (8, 1, 0, 0), b""),
    "pos_embed": ("F32", (1, 4, 8), F32(32)),
    "y_embedder.embedding_table.weight": ("F32", (3, 8), F32(24)),
    "final_layer.linear.weight": ("F32", (4, 8), F32(32)),
    "blocks.0.mlp.fc1.weight": ("F32", (8, 8), F32(64)),
    "blocks.0.attn.qkv.weight": ("F32", (24, 8), F32(192)),
}))
# Hidden size 16384 from a 64 KiB patch projection, with empty block weights: the model built
# before the weights were compared allocated 16384^2 x 12 floats per block (12 GiB).
D = 16384
write("load_sit", "model_size_from_one_tensor", safetensors({
    "x_embedder.proj.weight": ("F32", (D, 1, 1, 1), F32(D)),
    "pos_embed": ("F32", (1, 1, 1), F32(1)),
    "y_embedder.embedding_table.weight": ("F32", (1, 0), b""),
    "final_layer.linear.weight": ("F32", (1, 0), b""),
    "blocks.0.mlp.fc1.weight": ("F32", (0, 0), b""),
    "blocks.0.attn.qkv.weight": ("F32", (0, 0), b""),
}))

# Image headers claiming tens of millions of pixels in a few bytes: stb_image allocated and filled
# them (250 MB and 1.6 s for the TGA, over libFuzzer's 10 s timeout under ASan), and the image
# folders took the fill as pixels.
# The fuzzer's find: an uncompressed 24-bit TGA of 4085 x 15119 pixels, 24 bytes in all.
write("image", "tga_header_claims_62M_pixels",
      bytes([0, 0, 2]) + bytes(5) + struct.pack("<HHHHBB", 0, 0, 4085, 15119, 24, 0) + bytes(6))
# A 24-bit BMP of 7000 x 9000 pixels in 70 bytes.
write("image", "bmp_header_claims_63M_pixels",
      b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) +
      struct.pack("<IiiHHIIiiII", 40, 7000, 9000, 1, 24, 0, 0, 2835, 2835, 0, 0) + bytes(16))
# A binary PPM of 7000 x 9000 pixels in 49 bytes.
write("image", "ppm_header_claims_63M_pixels", b"P6\n7000 9000\n255\n" + bytes(32))
