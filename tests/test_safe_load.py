"""Foreign weights: tensors load, a pickle that tries to run code is refused before it runs."""

import collections
import io
import os
import pickle
import random
import zipfile

import pytest
import torch
from safetensors.torch import save_file

from nnforge.errors import DataError, UnsafeFileError, UserError
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


def _rezip(members: dict[str, bytes]) -> bytes:
    """A zip archive of ``members`` with valid checksums, as a tool editing a checkpoint writes it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, tmp_path / "good.pt")
    with zipfile.ZipFile(tmp_path / "good.pt") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return (tmp_path / "good.pt").read_bytes(), members


@pytest.mark.parametrize("pickle_bytes, problem", [
    (b"\x80\x02a.", "IndexError"),  # APPEND on an empty stack: 'pop from empty list' came out as a traceback
    (b"\x80\x02h\x05.", "KeyError"),  # BINGET of a memo slot never stored
    (b"\x80\x02\xec.", "Unsupported operand 236"),  # not an opcode: damage, not code
])
def test_damaged_pickle_inside_a_valid_zip_is_a_one_line_data_error(tmp_path, saved, pickle_bytes, problem):
    _, members = saved
    members = {name: (pickle_bytes if name.endswith("data.pkl") else data) for name, data in members.items()}
    (tmp_path / "w.pt").write_bytes(_rezip(members))
    with pytest.raises(DataError, match="w.pt: a damaged PyTorch checkpoint") as err:
        load_weights(tmp_path / "w.pt")
    assert not isinstance(err.value, UnsafeFileError) and problem in str(err.value) and "\n" not in str(err.value)


def test_random_bytes_are_not_reported_as_code(tmp_path):
    (tmp_path / "w.pt").write_bytes(bytes(random.Random(1).randrange(256) for _ in range(300)))
    with pytest.raises(DataError, match="not a PyTorch checkpoint: neither a zip archive .* nor a pickle stream") as err:
        load_weights(tmp_path / "w.pt")
    assert not isinstance(err.value, UnsafeFileError)


def test_mutated_checkpoints_load_or_are_one_line_user_errors(tmp_path, saved):
    """Bytes flipped, cut or inserted, in the archive or (checksums made valid) in one member."""
    good, members = saved
    rng = random.Random(0)

    def mutate(data: bytes) -> bytes:
        data = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            kind, at = rng.random(), rng.randrange(max(1, len(data)))
            if kind < 0.6:
                data[at : at + 1] = bytes([rng.randrange(256)])
            elif kind < 0.8:
                del data[at:]
            else:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        return bytes(data)

    outcomes = collections.Counter()
    pickles = [name for name in members if name.endswith("data.pkl")]
    for i in range(300):
        if i % 3 == 0:
            raw = mutate(good)
        else:
            name = rng.choice(pickles * 3 + list(members))
            raw = _rezip({**members, name: mutate(members[name])})
        (tmp_path / "m.pt").write_bytes(raw)
        try:
            state = load_weights(tmp_path / "m.pt")
            assert all(isinstance(v, torch.Tensor) for v in state.values())
            outcomes["loaded"] += 1
        except UserError as exc:
            assert "\n" not in str(exc) and "m.pt" in str(exc)
            outcomes["damaged pickle" if "its pickle cannot be read" in str(exc) else type(exc).__name__] += 1
    assert outcomes["loaded"] and outcomes["damaged pickle"] and outcomes["DataError"]
