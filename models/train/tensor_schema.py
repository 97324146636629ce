"""The tensors an architecture needs, by name and shape, and the state each layer keeps per
stream: the Python twin of models/tensor_schema.cpp and models/block_state.cpp. The exporter and
the tiny-model generator write these names; the C++ loader refuses a file whose tensors differ
from this list in any name or shape."""
import math
from typing import Dict, List, Tuple

BLOCK_TYPES = ("mamba2", "mamba3", "mamba1", "attention")


def mamba2_dims(layer: Dict[str, int], d_model: int) -> Dict[str, int]:
    d_inner = layer["expand"] * d_model
    n_heads = d_inner // layer["head_dim"]
    bc = 2 * layer["n_groups"] * layer["d_state"]
    return {"d_inner": d_inner, "n_heads": n_heads, "conv_dim": d_inner + bc,
            # rows of in_proj: z, x, B, C, dt
            "in_proj_dim": 2 * d_inner + bc + n_heads}


def mamba3_dims(layer: Dict[str, int], d_model: int) -> Dict[str, int]:
    d_inner = layer["expand"] * d_model
    n_heads = d_inner // layer["head_dim"]
    ranks = max(layer["mimo_rank"], 1)
    bc = ranks * layer["n_groups"] * layer["d_state"]
    return {"d_inner": d_inner, "n_heads": n_heads, "ranks": ranks,
            "n_angles": layer["d_state"] // 2,
            # rows of in_proj: z, x, B, C, dt, lambda, theta
            "in_proj_dim": 2 * d_inner + 2 * bc + 2 * n_heads + layer["d_state"] // 2}


def mamba1_dims(layer: Dict[str, int], d_model: int) -> Dict[str, int]:
    return {"d_inner": layer["expand"] * d_model,
            "dt_rank": layer.get("dt_rank", 0) or math.ceil(d_model / 16)}


def _layer_tensors(layer: Dict, d_model: int) -> List[Tuple[str, List[int]]]:
    kind = layer["type"]
    if kind == "mamba2":
        d = mamba2_dims(layer, d_model)
        return [("in_proj.weight", [d["in_proj_dim"], d_model]),
                ("conv1d.weight", [d["conv_dim"], layer["d_conv"]]),
                ("conv1d.bias", [d["conv_dim"]]),
                ("dt_bias", [d["n_heads"]]), ("A_log", [d["n_heads"]]), ("D", [d["n_heads"]]),
                ("norm.weight", [d["d_inner"]]),
                ("out_proj.weight", [d_model, d["d_inner"]])]
    if kind == "mamba3":
        d = mamba3_dims(layer, d_model)
        H, R, N, P = d["n_heads"], d["ranks"], layer["d_state"], layer["head_dim"]
        out = [("in_proj.weight", [d["in_proj_dim"], d_model]),
               ("dt_bias", [H]), ("A_log", [H]), ("D", [H]),
               ("B_norm.weight", [N]), ("C_norm.weight", [N]),
               ("B_bias", [H, R, N]), ("C_bias", [H, R, N])]
        if layer["mimo_rank"] > 0:
            out += [("mimo_x", [H, R, P]), ("mimo_o", [H, R, P])]
        return out + [("norm.weight", [d["d_inner"]]),
                      ("out_proj.weight", [d_model, d["d_inner"]])]
    if kind == "mamba1":
        d = mamba1_dims(layer, d_model)
        D, N, r = d["d_inner"], layer["d_state"], d["dt_rank"]
        return [("in_proj.weight", [2 * D, d_model]),
                ("conv1d.weight", [D, layer["d_conv"]]), ("conv1d.bias", [D]),
                ("x_proj.weight", [r + 2 * N, D]),
                ("dt_proj.weight", [D, r]), ("dt_proj.bias", [D]),
                ("A_log", [D, N]), ("D", [D]),
                ("out_proj.weight", [d_model, D])]
    if kind == "attention":
        inner = layer["n_heads"] * layer["head_dim"]
        return [("qkv_proj.weight", [3 * inner, d_model]), ("out_proj.weight", [d_model, inner])]
    raise ValueError(f"unknown block type {kind!r}; known: {', '.join(BLOCK_TYPES)}")


def state_tensors(layer: Dict, d_model: int) -> List[Tuple[str, List[int]]]:
    """One stream's state for a layer, in the order the C++ lays it out."""
    kind = layer["type"]
    if kind == "mamba2":
        d = mamba2_dims(layer, d_model)
        return [("ssm", [d["n_heads"], layer["head_dim"], layer["d_state"]]),
                ("conv", [layer["d_conv"] - 1, d["conv_dim"]])]
    if kind == "mamba3":
        d = mamba3_dims(layer, d_model)
        H, P, N = d["n_heads"], layer["head_dim"], layer["d_state"]
        return [("ssm", [H, P, N]), ("prev_x", [H, P]), ("prev_b", [H, d["ranks"], N]),
                ("angle", [H, d["n_angles"]]), ("angle_residual", [H, d["n_angles"]])]
    if kind == "mamba1":
        d = mamba1_dims(layer, d_model)
        return [("ssm", [d["d_inner"], layer["d_state"]]),
                ("conv", [layer["d_conv"] - 1, d["d_inner"]])]
    if kind == "attention":
        shape = [layer["window"], layer["n_heads"], layer["head_dim"]]
        return [("keys", shape), ("values", list(shape)), ("cursor", [2])]
    raise ValueError(f"unknown block type {kind!r}; known: {', '.join(BLOCK_TYPES)}")


def expected_tensors(architecture: Dict) -> List[Tuple[str, List[int]]]:
    d_model = architecture["d_model"]
    out = [("input_proj.weight", [d_model, architecture["input_dim"]]),
           ("input_proj.bias", [d_model])]
    for i, layer in enumerate(architecture["layers"]):
        out.append((f"layers.{i}.norm.weight", [d_model]))
        out += [(f"layers.{i}.mixer.{name}", shape) for name, shape in _layer_tensors(layer, d_model)]
    out += [("norm_f.weight", [d_model]),
            ("head.weight", [architecture["output_dim"], d_model]),
            ("head.bias", [architecture["output_dim"]])]
    return out
