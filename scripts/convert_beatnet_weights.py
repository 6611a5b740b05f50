"""Convert BeatNet's published CRNN weights into the NumPy file the beat tracker loads.

    pip download --no-deps BeatNet==1.1.3 -d /tmp/beatnet
    .venv/bin/python scripts/convert_beatnet_weights.py /tmp/beatnet/BeatNet-1.1.3-py3-none-any.whl

BeatNet (Heydari, Cwitkowitz, Duan, ISMIR 2021; github.com/mjhydri/BeatNet) ships three
causal CRNNs (trained with GTZAN, Ballroom or the Rock Corpus held out) under CC BY 4.0,
which allows commercial use with attribution (audio/models/BEATNET-LICENSE.md). We keep
only the weights, as float32 arrays, so the default install needs neither torch nor
BeatNet's own dependencies (madmom, an old numba, pyaudio). Needs torch to read the .pt files.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "audio" / "models" / "beatnet.npz"


def main(wheel: str) -> None:
    import torch

    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(wheel) as archive:
        for model in (1, 2, 3):
            data = archive.read(f"BeatNet/models/model_{model}_weights.pt")
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            for name, tensor in state.items():
                arrays[f"model{model}.{name}"] = tensor.numpy().astype(np.float32)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB, {len(arrays)} arrays)")


if __name__ == "__main__":
    main(sys.argv[1])
