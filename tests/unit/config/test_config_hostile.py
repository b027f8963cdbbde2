"""patchwarden.yaml and the ignore file are read from pull requests: bounded, or refused."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from patchwarden.app.scan.ignore_file import load_ignore_file
from patchwarden.config.loader import MAX_FILE_BYTES, load_config
from patchwarden.errors import ConfigError

BOMB = """\
a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_in_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "patchwarden.yaml"
    path.write_text(BOMB)
    with pytest.raises(ConfigError, match="more than 100000 values after expanding aliases"):
        load_config(path)


def test_alias_bomb_in_ignore_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ".patchwarden-vulnignore.yaml"
    path.write_text(BOMB.replace("a: &a", "ignore: []\na: &a"))
    with pytest.raises(ConfigError, match="expanding aliases"):
        load_ignore_file(path)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "patchwarden.yaml"
    path.write_text("defaults: " + "[" * 200 + "]" * 200 + "\n")
    with pytest.raises(ConfigError, match="nested deeper than 64 levels"):
        load_config(path)


def test_oversized_config_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "patchwarden.yaml"
    path.write_text("# " + "x" * MAX_FILE_BYTES + "\n")
    with pytest.raises(ConfigError, match="byte limit"):
        load_config(path)


def test_a_few_honest_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "patchwarden.yaml"
    path.write_text(
        "discovery:\n  exclude: &ex ['-rc', '-beta']\n"
        "images:\n  - match: 'nginx'\n    exclude: *ex\n  - match: 'redis'\n    exclude: *ex\n"
    )
    config = load_config(path)
    assert [r.exclude for r in config.images] == [["-rc", "-beta"]] * 2


def test_fifo_named_like_a_config_file_never_blocks(tmp_path: Path) -> None:
    fifo = tmp_path / "patchwarden.yaml"
    os.mkfifo(fifo)
    result: list[BaseException | None] = []

    def run() -> None:
        try:
            load_config(fifo)
            result.append(None)
        except BaseException as exc:
            result.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(5)
    if t.is_alive():  # unblock the reader so the test process can end
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        pytest.fail("reading a FIFO config blocked")
    assert isinstance(result[0], ConfigError)
    assert "FIFO" in str(result[0])
