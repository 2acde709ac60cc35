"""Runs one peer duplicate finder inside the peers' own venv and prints its duplicate pairs as JSON.

Usage (by benchmarks/peers.py): PEERS_VENV/bin/python benchmarks/peer_runner.py TOOL FOLDER
TOOL: difpy-duplicates | difpy-similar | imagededup-phash. Paths are printed absolute.
"""

from __future__ import annotations

import json
import os
import sys


def difpy_pairs(folder: str, similarity: str) -> list[list[str]]:
    import difPy

    dif = difPy.build(folder, recursive=True, show_progress=False)
    search = difPy.search(dif, similarity=similarity, show_progress=False)
    # difPy 4.2: {path: [[matched path, mse], ...]}
    return [[os.path.abspath(path), os.path.abspath(match[0])] for path, matches in search.result.items() for match in matches]


def stub_torchvision() -> None:
    """imagededup imports torchvision for its CNN method even when only hashing is used. PyPI's torchvision
    wheels are CUDA builds whose operators fail to load beside the CPU torch wheel, and the CNN method cannot
    run here anyway (its weights come from the internet), so an inert stand-in takes torchvision's place."""
    import types

    class Inert:
        """Accepts whatever the CNN module's class bodies build at import time; does nothing."""

        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, *args, **kwargs):
            return self

        def __getattr__(self, attr: str):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return self

    def inert(attr: str) -> Inert:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return Inert()

    def module(name: str) -> types.ModuleType:
        stub = types.ModuleType(name)
        stub.__getattr__ = inert  # type: ignore[method-assign]
        sys.modules[name] = stub
        return stub

    for name in ("torchvision", "torchvision.models", "torchvision.transforms", "torchvision.models.vision_transformer"):
        module(name)
    sys.modules["torchvision"].models = sys.modules["torchvision.models"]
    sys.modules["torchvision.transforms"].transforms = sys.modules["torchvision.transforms"]


def imagededup_pairs(folder: str) -> list[list[str]]:
    stub_torchvision()
    from imagededup.methods import PHash

    found = PHash(verbose=False).find_duplicates(image_dir=folder, recursive=True)
    return [[os.path.join(folder, a), os.path.join(folder, b)] for a, others in found.items() for b in others]


def main() -> None:
    tool, folder = sys.argv[1], os.path.abspath(sys.argv[2])
    if tool.startswith("difpy-"):
        pairs = difpy_pairs(folder, tool.split("-", 1)[1])
    elif tool == "imagededup-phash":
        pairs = imagededup_pairs(folder)
    else:
        raise SystemExit(f"unknown tool {tool}")
    print(json.dumps({"pairs": pairs}))


if __name__ == "__main__":
    main()
