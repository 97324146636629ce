"""Export a PyTorch SsmModel to a statestream model file (docs/model_format.md).

    from export import export_model
    export_model(model, "data/models/x.safetensors", task="enhance", frontend={...},
                 recipe={"name": ..., "script": ..., "seed": ...})

Weights are rounded to float32, the dtype the engine runs.
"""
import json
import subprocess
import os
from typing import Dict

from safetensors_io import write_safetensors


def source_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, check=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def export_model(model, path: str, task: str, frontend: Dict, recipe: Dict) -> int:
    recipe = dict(recipe)
    recipe.setdefault("commit", source_commit())
    tensors = [(name, list(t.shape), t.detach().to("cpu").float().reshape(-1).tolist())
               for name, t in model.named_tensors().items()]
    metadata = {"format_version": "1", "task": task, "frontend": json.dumps(frontend),
                "architecture": json.dumps(model.architecture), "recipe": json.dumps(recipe)}
    return write_safetensors(path, tensors, metadata)
