#!/usr/bin/env python3
"""Step time of the PyTorch reference for the architectures `statestream bench ssm` measures,
so its table can print the reference beside the C++ (float32, one thread, no autograd).

    /usr/bin/python3 models/train/bench_reference.py --seconds 1 ARCH_JSON [ARCH_JSON ...]

Prints one line per architecture: "<median microseconds per step> <steps timed>".
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ssm_model import SsmModel  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("architectures", nargs="+")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for text in args.architectures:
        architecture = json.loads(text)
        model = SsmModel(architecture).float().eval()
        model.reset_parameters(torch.Generator().manual_seed(1))
        state = model.initial_state(torch.float32)
        x = torch.randn(architecture["input_dim"])
        times = []
        with torch.no_grad():
            for _ in range(3):
                _, state = model.step(x, state)
            spent = 0.0
            while spent < args.seconds or len(times) < 5:
                t0 = time.thread_time()
                _, state = model.step(x, state)
                dt = time.thread_time() - t0
                times.append(dt)
                spent += dt
        times.sort()
        print(f"{times[len(times) // 2] * 1e6:.1f} {len(times)}", flush=True)


if __name__ == "__main__":
    main()
