"""Foreign weights: tensors load, a pickle that tries to run code is refused before it runs."""

import os
import pickle
import zipfile

import pytest
import torch
from safetensors.torch import save_file

from nnforge.errors import DataError, UnsafeFileError
from nnforge.safe_load import load_weights, require_safe_torch


class Payload:
    """Unpickling this calls os.system, which would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_state_dicts_load_from_pt_and_safetensors(tmp_path):
    model = torch.nn.Linear(3, 2)
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, tmp_path / "w.pth")
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    for name in ("w.pth", "w.safetensors"):
        state = load_weights(tmp_path / name)
        assert set(state) == {"weight", "bias"}
        assert torch.equal(state["weight"], model.weight.detach())


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_malicious_pth_is_refused_and_runs_nothing(tmp_path, legacy):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    if legacy:  # a bare pickle stream, as old torch.save(_use_new_zipfile_serialization=False) wrote
        path.write_bytes(pickle.dumps({"weight": torch.zeros(2), "x": Payload(marker)}, protocol=2))
    else:  # torch's zip format with the payload inside data.pkl
        torch.save({"weight": torch.zeros(2), "x": Payload(marker)}, path)
        assert zipfile.is_zipfile(path)
    with pytest.raises(UnsafeFileError, match="refused.*run code"):
        load_weights(path)
    assert not marker.exists()


def test_garbage_and_wrong_suffix_are_one_line_errors(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"not a pickle at all")
    with pytest.raises((DataError, UnsafeFileError)) as err:
        load_weights(tmp_path / "w.pt")
    assert "\n" not in str(err.value)
    (tmp_path / "w.h5").write_bytes(b"x")
    with pytest.raises(DataError, match="accepted: .safetensors"):
        load_weights(tmp_path / "w.h5")
    with pytest.raises(DataError, match="not found"):
        load_weights(tmp_path / "missing.pt")


def test_old_torch_is_refused(monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.5.1+cpu")
    with pytest.raises(UnsafeFileError, match=">= 2.10"):
        require_safe_torch()
