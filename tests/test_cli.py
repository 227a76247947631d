"""The command line's own mistakes: a mistyped command or option is named with its nearest spelling."""

import pytest

from nnforge.cli import main


def _error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


def test_mistyped_command_is_named_with_the_nearest_command(capsys):
    err = _error(capsys, ["trian", "mnist_mlp"])
    assert "no command 'trian' (did you mean 'train'?)" in err
    assert "choose from" not in err  # not the list of all commands in one line
    assert "no command 'lessons' (did you mean 'lesson'?)" in _error(capsys, ["lessons"])
    assert "no command 'zzz'; `nnforge --help` lists them" in _error(capsys, ["zzz"])


def test_mistyped_option_is_named_by_the_command_with_the_nearest_option(capsys):
    err = _error(capsys, ["train", "mnist_mlp", "--sett", "train.epochs=1"])
    assert "nnforge train: error: unrecognized arguments: --sett train.epochs=1 (did you mean '--set'?)" in err
    assert "usage: nnforge train" in err  # the command's usage, not nnforge's
    assert "(did you mean '--export'?)" in _error(capsys, ["datasets", "--exprot=mnist"])


def test_set_with_a_space_before_its_value_shows_the_one_word_form(capsys):
    err = _error(capsys, ["train", "digits_mlp", "--set", "train.epochs", "3"])
    assert "nnforge train: error: --set takes KEY=VALUE in one word: --set train.epochs=3" in err
