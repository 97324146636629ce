"""The tensors an architecture needs, by name and shape: the Python twin of
models/tensor_schema.cpp. The exporter and the tiny-model generator write these names; the C++
loader refuses a file whose tensors differ from this list in any name or shape."""
from typing import Dict, List, Tuple


def mamba2_dims(layer: Dict[str, int], d_model: int) -> Dict[str, int]:
    d_inner = layer["expand"] * d_model
    n_heads = d_inner // layer["head_dim"]
    bc = 2 * layer["n_groups"] * layer["d_state"]
    return {"d_inner": d_inner, "n_heads": n_heads, "conv_dim": d_inner + bc,
            # rows of in_proj: z, x, B, C, dt
            "in_proj_dim": 2 * d_inner + bc + n_heads}


def expected_tensors(architecture: Dict) -> List[Tuple[str, List[int]]]:
    d_model = architecture["d_model"]
    out = [("input_proj.weight", [d_model, architecture["input_dim"]]),
           ("input_proj.bias", [d_model])]
    for i, layer in enumerate(architecture["layers"]):
        if layer["type"] != "mamba2":
            raise ValueError(f"layer {i}: unknown block type {layer['type']!r}")
        dims = mamba2_dims(layer, d_model)
        p = f"layers.{i}."
        m = p + "mixer."
        out += [(p + "norm.weight", [d_model]),
                (m + "in_proj.weight", [dims["in_proj_dim"], d_model]),
                (m + "conv1d.weight", [dims["conv_dim"], layer["d_conv"]]),
                (m + "conv1d.bias", [dims["conv_dim"]]),
                (m + "dt_bias", [dims["n_heads"]]),
                (m + "A_log", [dims["n_heads"]]),
                (m + "D", [dims["n_heads"]]),
                (m + "norm.weight", [dims["d_inner"]]),
                (m + "out_proj.weight", [d_model, dims["d_inner"]])]
    out += [("norm_f.weight", [d_model]),
            ("head.weight", [architecture["output_dim"], d_model]),
            ("head.bias", [architecture["output_dim"]])]
    return out
