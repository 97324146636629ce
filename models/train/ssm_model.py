"""A statestream model in PyTorch: the reference of models/ssm_model.cpp.

    x [input_dim] -> input_proj -> h [d_model]
    for each layer: h = h + block(RMSNorm(h) * norm.weight)
    y = head(RMSNorm(h) * norm_f.weight)  [output_dim]

Built from the same "architecture" JSON the model file carries, exported under the tensor
names of docs/model_format.md (tensor_schema.py lists them), and loadable back from a file.
"""
import json
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from init import uniform_
from attention_block import AttentionConfig, WindowAttentionBlock
from mamba1_block import Mamba1Block, Mamba1Config
from mamba2_block import Mamba2Block, Mamba2Config, rms_norm
from mamba3_block import Mamba3Block, Mamba3Config
from tensor_schema import BLOCK_TYPES, expected_tensors

State = List[Dict[str, torch.Tensor]]


def make_block(layer: Dict, d_model: int, norm_eps: float) -> nn.Module:
    kind = layer["type"]
    if kind == "mamba2":
        return Mamba2Block(Mamba2Config(d_model=d_model, d_state=layer["d_state"],
                                        head_dim=layer["head_dim"], expand=layer["expand"],
                                        d_conv=layer["d_conv"], n_groups=layer["n_groups"],
                                        norm_eps=norm_eps))
    if kind == "mamba3":
        return Mamba3Block(Mamba3Config(d_model=d_model, d_state=layer["d_state"],
                                        head_dim=layer["head_dim"], expand=layer["expand"],
                                        n_groups=layer["n_groups"], mimo_rank=layer["mimo_rank"],
                                        norm_eps=norm_eps))
    if kind == "mamba1":
        return Mamba1Block(Mamba1Config(d_model=d_model, d_state=layer["d_state"],
                                        expand=layer["expand"], d_conv=layer["d_conv"],
                                        dt_rank=layer.get("dt_rank", 0)))
    if kind == "attention":
        return WindowAttentionBlock(AttentionConfig(d_model=d_model, n_heads=layer["n_heads"],
                                                    head_dim=layer["head_dim"],
                                                    window=layer["window"]))
    raise ValueError(f"unknown block type {kind!r}; known: {', '.join(BLOCK_TYPES)}")


class SsmModel(nn.Module):
    def __init__(self, architecture: Dict):
        super().__init__()
        self.architecture = architecture
        d_model = architecture["d_model"]
        self.norm_eps = float(architecture.get("norm_eps", 1e-5))
        self.input_proj = nn.Linear(architecture["input_dim"], d_model)
        self.blocks = nn.ModuleList()
        self.norm_weights = nn.ParameterList()
        for layer in architecture["layers"]:
            self.blocks.append(make_block(layer, d_model, self.norm_eps))
            self.norm_weights.append(nn.Parameter(torch.ones(d_model)))
        self.norm_f_weight = nn.Parameter(torch.ones(d_model))
        self.head = nn.Linear(d_model, architecture["output_dim"])

    def reset_parameters(self, generator: torch.Generator):
        """Random weights for fixtures: every tensor non-trivial, so a swapped index shows."""
        fan_in = self.architecture["input_dim"]
        uniform_(self.input_proj.weight, -fan_in ** -0.5, fan_in ** -0.5, generator)
        uniform_(self.input_proj.bias, -0.1, 0.1, generator)
        for block, weight in zip(self.blocks, self.norm_weights):
            block.reset_parameters(generator)
            uniform_(weight, 0.8, 1.2, generator)
        uniform_(self.norm_f_weight, 0.8, 1.2, generator)
        d_model = self.architecture["d_model"]
        uniform_(self.head.weight, -d_model ** -0.5, d_model ** -0.5, generator)
        uniform_(self.head.bias, -0.1, 0.1, generator)

    def initial_state(self, dtype=torch.float32, device=None) -> State:
        return [block.initial_state(dtype, device) for block in self.blocks]

    def forward(self, x: torch.Tensor, state: Optional[State] = None, chunk: int = 64,
                naive: bool = False) -> Tuple[torch.Tensor, State]:
        """x [T, input_dim] -> y [T, output_dim], and the state after the last step. Models of
        Mamba-2 layers also take leading batch dimensions, x [..., T, input_dim]."""
        if state is None:
            state = self.initial_state(x.dtype, x.device)
        h = self.input_proj(x)
        new_state = []
        for block, weight, layer_state in zip(self.blocks, self.norm_weights, state):
            out, s = block(rms_norm(h, weight, self.norm_eps), layer_state, chunk=chunk, naive=naive)
            h = h + out
            new_state.append(s)
        return self.head(rms_norm(h, self.norm_f_weight, self.norm_eps)), new_state

    def step(self, x: torch.Tensor, state: State) -> Tuple[torch.Tensor, State]:
        """x [input_dim] -> y [output_dim]: one step."""
        y, new_state = self.forward(x[None, :], state, naive=True)
        return y[0], new_state

    def named_tensors(self) -> Dict[str, torch.Tensor]:
        tensors = {"input_proj.weight": self.input_proj.weight, "input_proj.bias": self.input_proj.bias}
        for i, (block, weight) in enumerate(zip(self.blocks, self.norm_weights)):
            tensors[f"layers.{i}.norm.weight"] = weight
            tensors.update(block.named_tensors(f"layers.{i}.mixer."))
        tensors.update({"norm_f.weight": self.norm_f_weight, "head.weight": self.head.weight,
                        "head.bias": self.head.bias})
        ordered = {}
        for name, shape in expected_tensors(self.architecture):
            if list(tensors[name].shape) != shape:
                raise ValueError(f"{name}: shape {list(tensors[name].shape)}, schema says {shape}")
            ordered[name] = tensors[name]
        return ordered

    def load_named_tensors(self, tensors: Dict[str, torch.Tensor]):
        own = self.named_tensors()
        with torch.no_grad():
            for name, target in own.items():
                target.copy_(tensors[name].reshape(target.shape).to(target.dtype))


def load_model(path: str, dtype=torch.float64) -> Tuple[SsmModel, Dict[str, str]]:
    """Reads a model file written by export.py (or any conforming writer)."""
    from safetensors_io import read_safetensors
    metadata, raw = read_safetensors(path)
    model = SsmModel(json.loads(metadata["architecture"])).to(dtype)
    model.load_named_tensors({name: torch.tensor(values, dtype=dtype).reshape(shape)
                              for name, (shape, values) in raw.items()})
    return model, metadata
