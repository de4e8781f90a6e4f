"""The one atomic writer of the package: every file and folder it saves goes through here.

* Files: written to a temporary file in the same folder and moved into place with ``os.replace``, so a
  reader sees the old file or the new one, never half of either.
* Folders (:func:`atomic_folder`): written into a staging sibling folder, then swapped in: the old folder
  is renamed aside, the new one renamed in, the old one deleted. The path always holds a whole model, or
  (for the instant between the two renames) only the aside copy, which :func:`recover` (called by every
  load and save) renames back. A marker file (:data:`MARKER`) lists what a folder of ours holds; a folder
  with other files is refused unless ``overwrite=True``, so saving never deletes a user's files.
  Staging folders and aside copies that an interrupted save left behind are removed by the next save.
* Permissions are the ordinary ones (folders 0755, files 0644, less the umask), not the 0700/0600 of
  temporary files, so another account can read a shared model.

Usage:

```python
with atomic_folder("model", kind="bertopic-sae model") as staging:
    (staging / "config.json").write_text("{}")
```
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

__all__ = [
    "MARKER",
    "atomic_folder",
    "atomic_write_text",
    "atomic_write_bytes",
    "atomic_save_npy",
    "publish",
    "recover",
    "register",
]

MARKER = ".bertopic-sae.json"
"""File in every folder this package writes; it names the kind of folder and the entries it holds."""

_STAGING = ".staging-"
_ASIDE = ".old-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(temporary: str | os.PathLike, path: str | os.PathLike) -> None:
    """Give a finished temporary file the usual permissions (temp files are 0600) and move it into place."""
    os.chmod(temporary, 0o666 & ~_umask())
    os.replace(temporary, path)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error it becomes ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(handle)
    try:
        yield Path(name)
        publish(name, target)
    finally:
        if os.path.exists(name):
            os.remove(name)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_file(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path) as temporary:
        temporary.write_bytes(data)


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save ``array`` as ``.npy`` at ``path`` atomically."""
    with atomic_file(path, suffix=".npy") as temporary:
        np.save(temporary, array)


# ------------------------------------------------------------------------------------------------ folders
def _read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _foreign_entries(folder: Path, legacy: Iterable[str]) -> list[str]:
    """Entries of ``folder`` that this package did not write (the marker's list, or a known legacy layout)."""
    marker = _read_marker(folder)
    known = set(marker.get("entries", [])) if marker else set(legacy)
    return sorted(p.name for p in folder.iterdir() if p.name != MARKER and p.name not in known)


def _siblings(target: Path, tag: str) -> list[Path]:
    if not target.parent.is_dir():
        return []
    return sorted(target.parent.glob(f".{target.name}{tag}*"), key=lambda p: p.stat().st_mtime)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftovers are never in use: a save in progress is not reentrant
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_of(path: Path, tag: str) -> int:
    try:
        return int(path.name.split(tag, 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return -1


def recover(path: str | os.PathLike) -> bool:
    """Finish a swap that a kill interrupted: when ``path`` is missing but an aside copy exists, rename the
    newest aside copy back to ``path``. Returns whether it did."""
    target = Path(path)
    if target.exists():
        return False
    asides = _siblings(target, _ASIDE)
    if not asides:
        return False
    os.replace(asides[-1], target)
    return True


def _clean_leftovers(target: Path) -> None:
    recover(target)
    for leftover in _siblings(target, _STAGING) + _siblings(target, _ASIDE):
        tag = _STAGING if _STAGING in leftover.name else _ASIDE
        if not _alive(_pid_of(leftover, tag)):
            shutil.rmtree(leftover, ignore_errors=True)


def _fix_permissions(folder: Path) -> None:
    mask = _umask()
    os.chmod(folder, 0o777 & ~mask)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~mask)


def _write_marker(folder: Path, kind: str, extra: Iterable[str] = ()) -> None:
    entries = sorted({p.name for p in folder.iterdir() if p.name != MARKER} | set(extra))
    (folder / MARKER).write_text(json.dumps({"kind": kind, "entries": entries}, indent=1), encoding="utf-8")


def check_target(path: str | os.PathLike, *, kind: str, overwrite: bool = False,
                 legacy: Iterable[str] = ()) -> Path:
    """Raise before anything is written when saving a ``kind`` folder at ``path`` could lose a user's files.

    Arguments:
        path: the folder to write.
        kind: what is saved, for messages and the marker (e.g. ``"bertopic-sae model"``).
        overwrite: replace a folder that holds files this package did not write.
        legacy: entry names of this kind's folders saved before markers existed (they count as ours).
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target} is a file; pass a folder path to save a {kind}.")
    if target.is_dir() and not overwrite:
        foreign = _foreign_entries(target, legacy)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise FileExistsError(
                f"{target} holds files that were not written by bertopic-sae ({shown}); nothing was changed. "
                "Choose another folder, or pass overwrite=True to replace the folder and everything in it."
            )
    return target


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike, *, kind: str, overwrite: bool = False,
                  legacy: Iterable[str] = (), keep: Iterable[str] = ()) -> Iterator[Path]:
    """Yield an empty staging folder; when the block ends without error it replaces the folder ``path``.

    Arguments:
        path: the folder to write (created, or replaced when it is ours or ``overwrite`` is set).
        kind: what is saved, for messages and the marker (e.g. ``"bertopic-sae model"``).
        overwrite: replace a folder that holds files this package did not write.
        legacy: entry names of this kind's folders saved before markers existed (they count as ours).
        keep: entries of the old folder carried over into the new one (e.g. a training checkpoint).

    Raises:
        FileExistsError: ``path`` is a file, or a folder with files not ours and ``overwrite`` is False.
    """
    keep = tuple(keep)
    target = check_target(path, kind=kind, overwrite=overwrite, legacy=(*legacy, *keep))
    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{_STAGING}{os.getpid()}-", dir=target.parent))
    try:
        yield staging
        for name in keep:
            if (target / name).exists() and not (staging / name).exists():
                os.replace(target / name, staging / name)
        _write_marker(staging, kind)
        _fix_permissions(staging)
        _swap(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_aside(target: Path) -> Path | None:
    """First half of the swap: rename the old folder aside (None when there is none)."""
    if not target.exists():
        return None
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}{_ASIDE}{os.getpid()}-", dir=target.parent))
    os.replace(target, aside)  # a directory replaces an empty directory atomically
    return aside


def _move_in(staging: Path, target: Path, aside: Path | None) -> None:
    """Second half of the swap: rename the new folder in, then delete the aside copy."""
    os.replace(staging, target)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _swap(staging: Path, target: Path) -> None:
    _move_in(staging, target, _move_aside(target))


def register(folder: str | os.PathLike, *names: str) -> None:
    """Add entries written into a folder of ours after its save (e.g. the CLI's topic table) to its marker."""
    folder = Path(folder)
    marker = _read_marker(folder)
    if marker is None:
        return
    marker["entries"] = sorted(set(marker.get("entries", [])) | set(names))
    atomic_write_text(folder / MARKER, json.dumps(marker, indent=1))
