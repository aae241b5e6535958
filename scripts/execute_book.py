"""Execute the book's chapters in parallel into the build's execution cache.

``jupyter-book build .`` executes chapters one after another. On the course's 2-core
build machine that leaves a core idle for about half the build: most chapters train
small models whose speed is bound by per-operation overhead, which a second thread
barely helps, and four chapters pin one torch thread. This script fills the same
jupyter-cache that the build reads (``execute.cache`` in ``_config.yml``) with every
chapter that is not cached yet, running ``--workers`` chapters at a time; the build
that follows finds every chapter cached and only renders.

Cache semantics are the build's own: a chapter is re-executed only when its code cells
changed (jupyter-cache's hash of the notebook), and it executes in its own folder, as
the build executes it. Each kernel gets ``OMP_NUM_THREADS = cores // workers`` unless
the variable is already set, so parallel chapters do not fight over cores; every
chapter prints the thread count it ran with. Kernels also get ``RVT_WIDGETS=static``
(unless set): the site has no kernel, so widgets are precomputed HTML controls
(``rvt_lib.book.interact``); and matplotlib's inline backend, whatever ``MPLBACKEND``
the shell exports, since a figure the kernel does not display is missing from the site.

Chapters start longest first, by the minutes their header gives (``rvt: minutes: 7.5``: the
time of the last ``book`` build; after a ``book`` run the script names the hints that are
more than 1.5x and half a minute off), so that no long chapter starts last while the other
worker idles.

A chapter that *measures* the machine (timings, the speed-up of a second thread) declares
it in its notebook metadata, ``"rvt": {"exclusive": true}`` (in the jupytext header:
``rvt: exclusive: true`` under ``jupyter:``). Such chapters run after the others, one at a
time, with every core free: run beside another chapter, the cost chapter's timings
measured the other chapter's load (on 3 December it took 692 s in the build against
354 s alone, and its second thread had no core of its own).

If any chapter fails, the others still finish (and are cached), the failing ones are
named with their tracebacks, and the script exits with status 1 so that
``execute_book.py && jupyter-book build .`` stops before building.

    python scripts/execute_book.py                 # every chapter in _toc.yml
    python scripts/execute_book.py --workers 1     # one at a time
    python scripts/execute_book.py --list          # what would run, and what is cached
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files(root: Path = ROOT) -> list[str]:
    """Every page of ``_toc.yml`` (the root first), as written there: no suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = [toc["root"]] if "root" in toc else []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc)
    return files


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The ``.ipynb`` chapters listed in ``_toc.yml``, in reading order."""
    return [root / f"{f}.ipynb" for f in toc_files(root) if (root / f"{f}.ipynb").exists()]


def execution_settings(root: Path = ROOT) -> dict:
    """The cache path, per-cell timeout and allow_errors from ``_config.yml``."""
    execute = (yaml.safe_load((root / "_config.yml").read_text()) or {}).get("execute", {})
    if execute.get("execute_notebooks", "cache") != "cache":
        raise SystemExit("execute_book: _config.yml must use execute_notebooks: cache")
    return {"cache": root / execute.get("cache", "_build/.jupyter_cache"),
            "timeout": int(execute.get("timeout", 30)),
            "allow_errors": bool(execute.get("allow_errors", False))}


def _execute(path: str, timeout: int, allow_errors: bool, threads: int):
    """Worker: run one notebook in its own folder; return (path, notebook, seconds, error)."""
    from jupyter_cache.executors.utils import single_nb_execution

    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("RVT_WIDGETS", "static")  # the site has no kernel: precomputed widgets
    # The site shows what the kernel displayed: figures must be drawn inline. A shell that
    # exports MPLBACKEND=Agg (as CI does for its tests) would leave every figure out of the
    # cache, and so out of the site, without an error.
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    nb = nbformat.read(path, as_version=4)
    # store_widget_state=False: the site's widgets are static HTML (rvt_lib.book.interact);
    # a saved ipywidgets state would only make the page load ipywidgets' manager from a CDN
    # (nbclient keeps the state of every widget ever opened, closed ones included).
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=allow_errors, meta_override=True,
                                 store_widget_state=False)
    error = None if result.err is None else (result.exc_string or repr(result.err))
    return path, nb, result.time, error


def _rvt(nb) -> dict:
    """The chapter's build settings: ``metadata.rvt`` (``rvt:`` in the jupytext header)."""
    meta = nb.metadata.get("rvt", {})
    return meta if isinstance(meta, dict) else {}


def is_exclusive(path: Path) -> bool:
    """Whether the chapter asks for the machine to itself (``metadata.rvt.exclusive``)."""
    return bool(_rvt(nbformat.read(path, as_version=4)).get("exclusive", False))


def expected_minutes(nb) -> float | None:
    """How long the chapter ran in the last ``book`` build (``metadata.rvt.minutes``), or None.

    Only used to order the chapters; after a ``book`` run the script says which of these
    hints are stale."""
    minutes = _rvt(nb).get("minutes")
    return float(minutes) if isinstance(minutes, (int, float)) and minutes > 0 else None


def _run_pool(pool, paths, settings, threads, cache, root, failed) -> None:
    """Execute ``paths`` on ``pool``, longest first; cache each success, record failures."""
    futures = [pool.submit(_execute, str(p), settings["timeout"], settings["allow_errors"], threads)
               for p in _longest_first(paths)]
    for future in as_completed(futures):
        path, nb, seconds, error = future.result()
        name = Path(path).relative_to(root)
        if error is not None:
            failed.append(name)
            print(f"FAILED    {name} after {seconds:.0f} s\n{error}", flush=True)
            continue
        _store(cache, path, nb, seconds)
        print(f"executed  {name} in {seconds:.0f} s", flush=True)
        stale = _stale_hint(nb, seconds)
        if stale:
            print(f"hint      {name}: {stale}", flush=True)


def _longest_first(paths: list[Path]) -> list[Path]:
    """Start the chapters expected to run longest first, so that the last one to finish does
    not start late: by ``rvt.minutes`` (the last ``book`` build's time), then, for chapters
    without that hint, by the size of their code.

    On 3 December the code-size order alone started the depth chapter (312 s) ninth of
    eleven, and the two workers ended 1,121 and 1,330 s in; ordered by those times, they
    would have ended at 1,219 and 1,232 s."""
    def key(p: Path) -> tuple[float, int]:
        nb = nbformat.read(p, as_version=4)
        return expected_minutes(nb) or 0.0, sum(len(c.source) for c in nb.cells if c.cell_type == "code")
    return sorted(paths, key=key, reverse=True)


def _stale_hint(nb, seconds: float) -> str | None:
    """Under the ``book`` budget: what to write as ``rvt: minutes:`` when the header's hint is
    missing, or off by more than 1.5x and more than half a minute (other budgets run for
    other times; they say nothing)."""
    from rvt_lib.budget import get_budget  # torch-free

    if get_budget() != "book":
        return None
    hint, took = expected_minutes(nb), seconds / 60
    if hint is not None and (1 / 1.5 <= took / hint <= 1.5 or abs(took - hint) <= 0.5):
        return None
    said = "no rvt.minutes" if hint is None else f"rvt.minutes is {hint:g}"
    return f"{said} in its header, it took {took:.1f} min: update the hint (it orders the chapters)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="chapters executed at once (default: the number of cores)")
    parser.add_argument("--list", action="store_true", help="show what is cached and stop")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")

    from jupyter_cache import get_cache

    settings = execution_settings(args.root)
    cache = get_cache(str(settings["cache"]))
    todo = []
    for path in toc_notebooks(args.root):
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
            print(f"cached    {path.relative_to(args.root)}")
        except KeyError:
            print(f"to run    {path.relative_to(args.root)}")
            todo.append(path)
    if args.list or not todo:
        return 0

    exclusive = [p for p in todo if is_exclusive(p)]
    shared = [p for p in todo if p not in exclusive]
    failed, start = [], time.perf_counter()
    cores = os.cpu_count() or 1
    if shared:
        workers = min(args.workers, len(shared))
        threads = max(1, cores // workers)
        print(f"executing {len(shared)} chapter(s), {workers} at a time, "
              f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', threads)}", flush=True)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            _run_pool(pool, shared, settings, threads, cache, args.root, failed)
    if exclusive:
        print(f"executing {len(exclusive)} chapter(s) that measure the machine, one at a time, "
              f"alone: {', '.join(str(p.relative_to(args.root)) for p in exclusive)}", flush=True)
        with ProcessPoolExecutor(max_workers=1) as pool:  # a fresh process: its own thread count
            _run_pool(pool, exclusive, settings, cores, cache, args.root, failed)
    print(f"wall time {time.perf_counter() - start:.0f} s")
    if failed:
        print("execute_book: these chapters failed (not cached): "
              + ", ".join(map(str, failed)), file=sys.stderr)
        return 1
    return 0


def _store(cache, path: str, nb, seconds: float) -> None:
    """Cache an executed notebook exactly as the build's own executor does."""
    from jupyter_cache.base import CacheBundleIn

    record = cache.add_nb_to_project(path)
    cache.cache_notebook_bundle(CacheBundleIn(nb, record.uri, data={"execution_seconds": seconds}),
                                check_validity=False, overwrite=True)


if __name__ == "__main__":
    sys.exit(main())
