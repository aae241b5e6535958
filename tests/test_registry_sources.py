"""Every data file has more than one pinned source, tried in order; the hash decides.

No test touches the network: pooch's downloader is replaced by one that copies the offline
mirror (or fails like a dead host, or serves the wrong bytes), so the genuine pooch code path
runs.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pooch
import pytest
import requests

import rvt_lib.data.registry as registry
from rvt_lib.data.registry import REGISTRY, DataCorruptError, DataFile, DataUnavailableError, fetch

from tests.test_data import _mirror

COMMIT = re.compile(r"[0-9a-f]{40}")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_file_has_a_second_source_on_another_host(name):
    entry = REGISTRY[name]
    assert entry.urls[0] == entry.url and len(entry.urls) >= 2
    hosts = {urlparse(u).netloc for u in entry.urls}
    assert len(hosts) >= 2, f"{name}: all sources on one host {hosts}: one outage takes them all"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_sources_are_pinned(name):
    """A GitHub-backed source names a commit (bytes that cannot move); others are fixed files."""
    for url in REGISTRY[name].urls:
        if "github" in url or "jsdelivr" in url:
            assert COMMIT.search(url), f"{name}: {url} is not pinned to a commit"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_file_states_its_licence(name):
    assert len(REGISTRY[name].licence) > 20


def test_licences_named_in_the_module_docstring():
    doc = registry.__doc__
    for needle in ("public domain", "Yahoo", "Dau et al. 2019", "Olszewski 2001", "PhysioNet",
                   "Open Data Commons Attribution"):
        assert needle in doc, needle


def test_a_datafile_refuses_bad_sources():
    sha = "0" * 64
    with pytest.raises(ValueError, match="https://"):
        DataFile("x.txt", "http://example.org/x.txt", sha, "x")
    with pytest.raises(TypeError, match="tuple"):
        DataFile("x.txt", "https://example.org/x.txt", sha, "x", mirrors=["https://example.org/y"])
    with pytest.raises(ValueError, match="twice"):
        DataFile("x.txt", "https://example.org/x.txt", sha, "x", mirrors=("https://example.org/x.txt",))


def _downloads(monkeypatch, tmp_path, behaviour):
    """Genuine pooch.retrieve with a downloader ``behaviour(url, output_file)``; returns the calls."""
    calls: list[str] = []
    real_retrieve = pooch.retrieve

    def downloader(url, output_file, pooch_obj):
        calls.append(url)
        behaviour(url, output_file)

    monkeypatch.delenv("RVT_DATA_DIR", raising=False)
    monkeypatch.setenv("RVT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(pooch, "retrieve", lambda *a, **k: real_retrieve(*a, downloader=downloader, **k))
    return calls


NAME = "tinyshakespeare.txt"


def test_a_dead_primary_falls_through_to_the_mirror(monkeypatch, tmp_path):
    source = _mirror() / NAME
    entry = REGISTRY[NAME]

    def primary_dead(url, output_file):
        if url == entry.url:
            raise requests.exceptions.ConnectionError("404 or unreachable")
        shutil.copyfile(source, output_file)

    calls = _downloads(monkeypatch, tmp_path, primary_dead)
    path = fetch(NAME)
    assert calls == list(entry.urls[:2])
    assert registry.sha256(path) == entry.sha256


def test_wrong_bytes_from_one_source_are_not_kept(monkeypatch, tmp_path):
    source = _mirror() / NAME
    entry = REGISTRY[NAME]

    def first_serves_other_bytes(url, output_file):
        if url == entry.url:
            Path(output_file).write_text("a different file")
        else:
            shutil.copyfile(source, output_file)

    calls = _downloads(monkeypatch, tmp_path, first_serves_other_bytes)
    path = fetch(NAME)
    assert calls == list(entry.urls[:2])
    assert registry.sha256(path) == entry.sha256


def test_every_source_tried_once_then_one_clear_offline_error(monkeypatch, tmp_path):
    entry = REGISTRY[NAME]

    def offline(url, output_file):
        raise requests.exceptions.ConnectionError("Failed to resolve host")

    calls = _downloads(monkeypatch, tmp_path, offline)
    with pytest.raises(DataUnavailableError) as info:
        fetch(NAME)
    assert calls == list(entry.urls)
    msg = str(info.value)
    assert NAME in msg and "RVT_DATA_DIR" in msg and entry.sha256 in msg
    assert all(url in msg for url in entry.urls)
    assert info.value.__cause__ is None and info.value.__context__ is None  # one error, not a chain


def test_wrong_bytes_everywhere_is_a_corruption_error_naming_every_source(monkeypatch, tmp_path):
    entry = REGISTRY[NAME]
    calls = _downloads(monkeypatch, tmp_path, lambda url, out: Path(out).write_text("nope"))
    with pytest.raises(DataCorruptError) as info:
        fetch(NAME)
    assert calls == list(entry.urls)
    assert all(url in str(info.value) for url in entry.urls) and "RVT_DATA_DIR" in str(info.value)
    assert not (tmp_path / NAME).exists()


def test_a_single_source_file_is_still_tried_twice(monkeypatch, tmp_path):
    """A download cut short is retried even when a file has only one source."""
    one = DataFile("one.txt", "https://example.org/one.txt", REGISTRY[NAME].sha256, "x")
    monkeypatch.setitem(REGISTRY, "one.txt", one)
    source = _mirror() / NAME
    attempts = iter(["short", "good"])

    def flaky(url, output_file):
        if next(attempts) == "short":
            Path(output_file).write_bytes(source.read_bytes()[:100])
        else:
            shutil.copyfile(source, output_file)

    calls = _downloads(monkeypatch, tmp_path, flaky)
    assert registry.sha256(fetch("one.txt")) == one.sha256
    assert calls == [one.url, one.url]
