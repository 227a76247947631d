"""`nnforge playground`: listed by the CLI; bad flags are one-line errors with exit status 2."""

from __future__ import annotations

import pytest

from nnforge.cli import build_parser, main


def test_the_command_is_registered_with_its_defaults():
    args = build_parser().parse_args(["playground"])
    assert (args.host, args.port, args.max_sessions, args.fps) == ("127.0.0.1", 8000, 8, 15.0)


@pytest.mark.parametrize("flags, words", [
    (["--port", "70000"], "--port 70000 is out of range"),
    (["--max-sessions", "0"], "--max-sessions 0 is out of range"),
    (["--idle-timeout", "0"], "--idle-timeout must be positive"),
    (["--fps", "100"], "--fps 100.0 is out of range"),
    (["--header-timeout", "nan"], "--header-timeout must be a positive number"),
])
def test_bad_flags_are_one_line_errors(flags, words, capsys):
    assert main(["playground", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and err.count("\n") == 1


def test_the_xor_lesson_points_to_the_playground(tmp_path, capsys):
    from nnforge.lessons import LESSONS

    LESSONS["xor"].run(tmp_path)
    assert "try it in the playground: `nnforge playground`, then XOR" in capsys.readouterr().out
