"""The demo's default output folder is the user's cache, never the current folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimsche.demo.output_folder import default_output_folder


def test_the_default_is_under_the_home_cache_without_xdg() -> None:
    assert default_output_folder({}) == Path.home() / ".cache" / "optimsche" / "demo"


def test_an_absolute_xdg_cache_home_is_used(tmp_path: Path) -> None:
    folder = default_output_folder({"XDG_CACHE_HOME": str(tmp_path)})
    assert folder == tmp_path / "optimsche" / "demo"


@pytest.mark.parametrize("cache", ["", "relative/cache"])
def test_an_empty_or_relative_xdg_cache_home_is_ignored(cache: str) -> None:
    assert default_output_folder({"XDG_CACHE_HOME": cache}) == default_output_folder({})


def test_the_demo_writes_into_the_cache_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from optimsche.cli import main

    cwd = tmp_path / "checkout"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["demo", "--steps", "4"]) == 0
    out = tmp_path / "cache" / "optimsche" / "demo"
    assert list(cwd.iterdir()) == []  # nothing written where the command ran
    assert {p.name for p in out.iterdir()} >= {"checkpoint-half.pt", "checkpoint-final.pt"}
    assert str(out) in capsys.readouterr().out
