"""The repository's URL is one setting (``repository.url`` in _config.yml); nothing copies it.

What derives from it is checked where it is made: the student notebooks' install line here, the
preface's clone and install lines and the launch buttons in the built site (tests/site).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "_ext"))

import repository_links  # noqa: E402
import student_notebooks  # noqa: E402

SKIP_DIRS = {".git", ".venv", "_build", "node_modules", ".pytest_cache", ".hypothesis"}


def repository_files() -> list[Path]:
    """The files of the repository: git's list in a checkout, else every file but build output."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode == 0 and listed.stdout:
        return [ROOT / name for name in listed.stdout.decode().split("\0") if name]
    return [p for p in ROOT.rglob("*")
            if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)]


def test_the_setting_is_read_from_the_config():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    url = repository_links.repository_url()
    assert url == config["repository"]["url"].rstrip("/")
    assert url.startswith("https://"), url


def test_no_other_copy_of_the_url():
    url = repository_links.repository_url()
    owner_and_name = "/".join(url.split("/")[-2:])       # owner/name
    copies = []
    for path in repository_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        count = text.count(owner_and_name)
        if count:
            copies.append((path.relative_to(ROOT).as_posix(), count))
    assert copies == [("_config.yml", 1)], (
        f"the repository ({owner_and_name}) must be named only by repository.url in "
        f"_config.yml; found in {copies}")


@pytest.mark.parametrize("text, expected", [
    ("git clone {{ repo_url }}\ncd {{ repo_name }}", "git clone https://example.org/a/b\ncd b"),
    ("git+{{repo_url}}", "git+https://example.org/a/b"),
    ("{{ pkg }} stays", "{{ pkg }} stays"),
])
def test_fill_replaces_both_names(text, expected):
    assert repository_links.fill(text, "https://example.org/a/b") == expected


def test_student_notebooks_install_from_the_setting(monkeypatch):
    monkeypatch.setattr(student_notebooks, "repository_url", lambda: "https://example.org/x/y")
    cell = student_notebooks.introduction("A chapter")
    assert 'git+https://example.org/x/y"' in cell.source
    assert "cnn-math-verified" not in cell.source
