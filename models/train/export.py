"""Export a PyTorch SsmModel to a statestream model file (docs/model_format.md).

    from export import export_model
    export_model(model, "data/models/x.safetensors", task="enhance", frontend={...},
                 recipe={"name": ..., "script": ..., "seed": ...},
                 extra_metadata={"labels": json.dumps([...])})   # optional

Weights are rounded to float32, the dtype the engine runs. extra_metadata adds task-specific
string entries to the file's __metadata__ (the recogniser's "labels"); it may not replace a
standard key.
"""
import json
import subprocess
import os
from typing import Dict, Optional

from safetensors_io import write_safetensors


def source_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, check=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def export_model(model, path: str, task: str, frontend: Dict, recipe: Dict,
                 extra_metadata: Optional[Dict[str, str]] = None) -> int:
    recipe = dict(recipe)
    recipe.setdefault("commit", source_commit())
    tensors = [(name, list(t.shape), t.detach().to("cpu").float().reshape(-1).tolist())
               for name, t in model.named_tensors().items()]
    metadata = {"format_version": "1", "task": task, "frontend": json.dumps(frontend),
                "architecture": json.dumps(model.architecture), "recipe": json.dumps(recipe)}
    for key, value in (extra_metadata or {}).items():
        if key in metadata:
            raise ValueError(f"extra metadata key {key!r} would replace the standard entry; "
                             "pick another name")
        if not isinstance(value, str):
            raise ValueError(f"extra metadata {key!r} must be a string (safetensors metadata "
                             f"holds strings only; JSON-encode it), got {type(value).__name__}")
        metadata[key] = value
    return write_safetensors(path, tensors, metadata)
