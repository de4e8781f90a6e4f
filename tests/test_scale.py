"""Pretraining at scale through the CLI: kill-and-resume gives the same SAE, and 2-process DDP (gloo on
CPU) matches one process with the same global batch. Small dimensions keep every test to seconds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import planted_ctm
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict:
    env = dict(os.environ)
    # One thread per process: deterministic, and on a busy 2-core machine far faster than 2 spinning ones.
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="false")
    return env


def _pretrain_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bertopic_sae", "pretrain", str(data), "--out", str(out), "--d-sae", "96",
            "--l1", "0.05", "--threads", "1", "-q", *extra]


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "sae_weights.safetensors"))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    X, _ = planted_ctm(4000, 48, 40, per_doc=3, noise=0.1, seed=3)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    path = tmp_path_factory.mktemp("scale") / "emb.npy"
    np.save(path, X.astype(np.float16))
    return path


def test_kill_and_resume_gives_the_uninterrupted_weights(data, tmp_path):
    steps, every = 2400, 200
    args = ("--steps", str(steps), "--batch-size", "64", "--checkpoint-every", str(every), "--seed", "5")
    reference = tmp_path / "reference"
    subprocess.run(
        _pretrain_cmd(data, reference, *args), check=True, env=_env(), capture_output=True, timeout=120
    )

    out = tmp_path / "killed"
    state = out / "checkpoint" / "trainer_state.pt"
    process = subprocess.Popen(
        _pretrain_cmd(data, out, *args), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed; raise steps"
    assert not (out / "sae_weights.safetensors").exists()
    saved_step = torch.load(state, weights_only=True)["step"]
    assert saved_step % every == 0 and every <= saved_step < steps
    # Also mimic a kill between the two checkpoint files (sae/ newer than trainer_state.pt): resume must
    # take the weights stored in the state file, so put foreign weights into sae/.
    shutil.copy(reference / "sae_weights.safetensors", out / "checkpoint" / "sae" / "sae_weights.safetensors")

    other = subprocess.run(
        _pretrain_cmd(data, out, *args, "--lr", "0.002"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other.returncode == 1 and "--lr 0.001" in other.stderr  # refuses to mix two runs' settings
    rerun = subprocess.run(
        _pretrain_cmd(data, out, *args), env=_env(), capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["resumed_from"] == saved_step and summary["steps"] == steps  # lost < one interval
    ours, theirs = _weights(out), _weights(reference)
    for name in theirs:  # the batch order is a pure function of (seed, step): identical on CPU
        assert torch.equal(ours[name], theirs[name]), name


@pytest.mark.skipif(
    shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None,
    reason="torchrun is not installed next to the interpreter",
)
def test_ddp_two_processes_match_one_process_with_the_global_batch(data, tmp_path):
    args = ("--steps", "150", "--batch-size", "128", "--checkpoint-every", "1000", "--seed", "2")
    single = tmp_path / "single"
    subprocess.run(
        _pretrain_cmd(data, single, *args), check=True, env=_env(), capture_output=True, timeout=120
    )
    ddp = tmp_path / "ddp"
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    cmd = [torchrun, "--standalone", "--nproc_per_node=2", "-m", *_pretrain_cmd(data, ddp, *args)[2:]]
    result = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])  # only rank 0 prints and saves
    assert summary["steps"] == 150
    from bertopic_sae import SparseAutoencoder

    assert SparseAutoencoder.from_pretrained(ddp).metadata["train_world_size"] == 2
    ours, theirs = _weights(ddp), _weights(single)
    for name in theirs:  # the same maths; only the order of floating-point sums differs
        difference = float((ours[name] - theirs[name]).abs().max())
        assert difference < 1e-4, (name, difference)  # measured: ~3e-7
