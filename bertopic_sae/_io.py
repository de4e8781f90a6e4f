"""The one atomic writer of the package: every file and folder it saves goes through here.

A file is written to a temporary file in the same folder and moved into place with ``os.replace``, so a
reader sees the old file or the new one, never half of either. Finished files get ordinary permissions
(0644 less the umask), not the 0600 of temporary files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["atomic_write_text", "atomic_save_npy", "publish"]


def publish(temporary: str, path: Path) -> None:
    """Give a finished temporary file the usual permissions (temp files are 0600) and move it into place."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, path)


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False,
                                     encoding="utf-8") as handle:
        handle.write(text)
    publish(handle.name, path)


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".npy",
                                     delete=False) as handle:
        np.save(handle, array)
    publish(handle.name, path)
