"""Make the reader's notebooks: what Colab and the site's download button serve.

The chapters are MyST notebooks: their prose holds ``{glue:text}`` roles, citations,
cross-references and ``:::{dropdown}`` blocks that only the book build turns into text,
and they are committed without outputs. Opened as they are in Colab, a reader sees raw
markup and no results. This command writes, for every chapter of ``_toc.yml``, a plain
notebook that reads well anywhere:

* outputs from the executed build (read from the build's jupyter-cache);
* glued values filled in, formatted as the page formats them;
* citations as author-year links to the site's references page, ``{doc}``/``{ref}``
  cross-references as links to the site, solutions in ``<details>``, admonitions as
  quoted blocks, list-tables as Markdown tables;
* glue's bookkeeping outputs removed.

Each written notebook is checked for MyST left over; any leftover fails the command.

    jupyter-book build .                         # (or the README's build command) first
    python scripts/reader_notebooks.py           # -> _build/reader/<chapter>.ipynb
    python scripts/reader_notebooks.py --site    # also serve them from the site's download button

The site's address comes from ``html.baseurl`` in ``_config.yml``.
"""
from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from execute_book import execution_settings, toc_notebooks  # noqa: E402

GLUE = re.compile(r"\{glue(?::text|:)?\}`([^`]+)`")
ROLE = re.compile(r"\{(cite|cite:p|cite:t|doc|ref|numref|eq)\}`([^`]+)`")
LABEL_LINE = re.compile(r"^\(([\w:.-]+)\)=\s*$", re.M)
FENCE = re.compile(r"^(:{3,})\{(\w[\w-]*)\}[ \t]*(.*)$")
LEFTOVER = re.compile(r"\{(glue|cite|doc|ref|numref|eq)[^}]*\}`|^:{3,}\{|^\([\w:.-]+\)=\s*$", re.M)


# ----------------------------------------------------------------------------- glue

def glued_values(nb) -> dict:
    """{name: text/plain repr} of every value a notebook glued (myst-nb's records)."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            record = out.get("metadata", {}).get("scrapbook")
            if record:
                data = out.get("data", {})
                key = record.get("mime_prefix", "") + "text/plain"
                values[record["name"]] = data.get(key, data.get("text/plain", ""))
    return values


def format_glue(text: str, spec: str) -> str:
    """Format a glued repr as ``{glue:text}`name:spec``` does."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    if not spec:
        return str(value)
    try:
        return format(value, spec)
    except (ValueError, TypeError):
        return str(value)


def _drop_glue_outputs(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not o.get("metadata", {}).get("scrapbook")]


# ----------------------------------------------------------------------------- references

def bibliography(path: Path) -> dict:
    """{key: "Author Year" label} from a BibTeX file (via pybtex, a Sphinx dependency)."""
    from pybtex.database import parse_file

    labels = {}
    for key, entry in parse_file(str(path)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [" ".join(p.last_names) for p in people] or [entry.fields.get("title", key)]
        names = [re.sub(r"[{}\\\"]", "", n) for n in names]
        who = (names[0] if len(names) == 1 else f"{names[0]} & {names[1]}" if len(names) == 2
               else f"{names[0]} et al.")
        labels[key] = f"{who} {entry.fields.get('year', 'n.d.')}"
    return labels


class Site:
    """What links need: the site's address, page titles and labelled sections."""

    def __init__(self, root: Path, baseurl: str, bib: dict, macros: dict | None = None):
        self.root, self.baseurl, self.bib = root, baseurl.rstrip("/") + "/", bib
        self.macros = macros or {}  # LaTeX macros the site's MathJax defines, e.g. \R
        self.titles, self.labels = {}, {}
        for source in list(root.glob("book/**/*.md")) + list(root.glob("book/**/*.py")):
            doc = source.relative_to(root).with_suffix("").as_posix()
            text = source.read_text()
            if source.suffix == ".py":  # py:percent: markdown lines are commented
                text = "\n".join(ln[2:] if ln.startswith("# ") else ln.lstrip("#")
                                  for ln in text.split("\n"))
            title = re.search(r"^# (.+)$", text, re.M)
            self.titles.setdefault(doc, title.group(1).strip() if title else doc)
            for m in re.finditer(r"^\(([\w:.-]+)\)=\s*\n\s*\n?#+ (.+)$", text, re.M):
                self.labels[m.group(1)] = (doc, m.group(2).strip())

    def page(self, doc: str) -> str:
        return f"{self.baseurl}{doc}.html"


def _split_target(text: str) -> tuple[str | None, str]:
    m = re.match(r"^(.*?)\s*<([^>]+)>$", text.strip())
    return (m.group(1), m.group(2)) if m else (None, text.strip())


def _role(kind: str, content: str, doc: str, site: Site) -> str:
    if kind.startswith("cite"):
        keys = [k.strip() for k in content.split(",")]
        missing = [k for k in keys if k not in site.bib]
        if missing:
            raise KeyError(f"{doc}: unknown citation key(s) {', '.join(missing)}")
        refs = site.page("book/references")
        return "; ".join(f"[{site.bib[k]}]({refs})" for k in keys)
    label, target = _split_target(content)
    if kind == "doc":
        resolved = (Path(doc).parent / target).as_posix() if not target.startswith("/") \
            else target.lstrip("/")
        resolved = re.sub(r"[^/]+/\.\./", "", resolved)
        return f"[{label or site.titles.get(resolved, resolved)}]({site.page(resolved)})"
    if kind in ("ref", "numref"):
        if target not in site.labels:
            raise KeyError(f"{doc}: unknown label {target!r}")
        page, title = site.labels[target]
        return f"[{label or title}]({site.page(page)}#{target})"
    return f"({content})"  # {eq}`label`: an equation number has no meaning off the site


# ----------------------------------------------------------------------------- blocks

def _blocks(lines: list[str]) -> list[str]:
    """Turn ``:::{dropdown}``/``{admonition}``/``{list-table}`` (and the like) into Markdown/HTML."""
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        colons, name, title = m.groups()
        j = i + 1
        while j < len(lines) and lines[j].strip() != colons:
            j += 1
        body = [ln for ln in lines[i + 1:j] if not re.match(r"^:[\w-]+:", ln)]
        options = [ln for ln in lines[i + 1:j] if re.match(r"^:[\w-]+:", ln)]
        body = _blocks(body)
        if name == "dropdown":
            out += [f"<details><summary>{title or 'Details'}</summary>", "", *body, "", "</details>"]
        elif name == "list-table":
            out += _list_table(body, title, header=any("header-rows" in o for o in options))
        else:  # admonition, note, tip, warning, ...
            heading = title or name.capitalize()
            out += [f"> **{heading}**", ">", *[f"> {ln}" if ln else ">" for ln in body]]
        i = j + 1
    return out


def _list_table(body: list[str], title: str, header: bool) -> list[str]:
    rows, row = [], None
    for ln in body:
        if ln.startswith("* - "):
            row = [ln[4:].strip()]
            rows.append(row)
        elif ln.strip().startswith("- ") and row is not None:
            row.append(ln.strip()[2:].strip())
        elif ln.strip() and row is not None:
            row[-1] += " " + ln.strip()
    if not rows:
        return []
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    table = [f"**{title}**", ""] if title else []
    head, rest = (rows[0], rows[1:]) if header else ([""] * width, rows)
    table.append("| " + " | ".join(head) + " |")
    table.append("|" + "---|" * width)
    table += ["| " + " | ".join(r) + " |" for r in rest]
    return table


def convert_markdown(text: str, doc: str, glue: dict, site: Site) -> str:
    """One markdown cell, MyST -> plain Markdown (raises on an unknown glue name/key).

    ``glue`` maps each chapter (``"book/part1_models/recurrent"``) to its glued values;
    ``{glue:text}`other.ipynb::name``` reads another chapter's, as myst-nb does.
    """
    def fill(m):
        source, key = doc, m.group(1)
        if "::" in key:  # {glue:text}`relative/path.ipynb::name:spec`
            path, _, key = key.partition("::")
            source = re.sub(r"[^/]+/\.\./", "", (Path(doc).parent / path).with_suffix("").as_posix())
        name, _, spec = key.partition(":")
        if name not in glue.get(source, {}):
            raise KeyError(f"{doc}: no glued value named {name!r} in {source}")
        return format_glue(glue[source][name], spec)

    text = GLUE.sub(fill, text)
    text = ROLE.sub(lambda m: _role(m.group(1), m.group(2), doc, site), text)
    for macro, expansion in site.macros.items():  # Colab's MathJax does not know them
        text = re.sub(r"\\" + macro + r"(?![A-Za-z])", lambda _: expansion, text)
    text = LABEL_LINE.sub(lambda m: f'<a id="{m.group(1)}"></a>', text)
    return "\n".join(_blocks(text.split("\n")))


def reader_notebook(executed, doc: str, glue: dict, site: Site):
    """The reader's version of one executed chapter (``glue``: see :func:`convert_markdown`)."""
    nb = copy.deepcopy(executed)
    _drop_glue_outputs(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = convert_markdown(cell.source, doc, glue, site)
    nb.metadata.pop("jupytext", None)
    leftovers = [m.group(0) for c in nb.cells if c.cell_type == "markdown"
                 for m in LEFTOVER.finditer(c.source)]
    if leftovers:
        raise ValueError(f"{doc}: MyST left in the reader's notebook: {leftovers[:5]}")
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "reader")
    parser.add_argument("--site", action="store_true",
                        help="also replace the .ipynb files the site's download button serves")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from jupyter_cache import get_cache

    config = yaml.safe_load((args.root / "_config.yml").read_text())
    baseurl = (config.get("html") or {}).get("baseurl") or ""
    if not baseurl:
        raise SystemExit("reader_notebooks: set html.baseurl in _config.yml (links point there)")
    bib_files = config.get("bibtex_bibfiles") or []
    bib = {}
    for b in bib_files:
        bib.update(bibliography(args.root / b))
    macros = ((((config.get("sphinx") or {}).get("config") or {}).get("mathjax3_config") or {})
              .get("tex", {}).get("macros", {}))
    site = Site(args.root, baseurl, bib, {k: v for k, v in macros.items() if isinstance(v, str)})
    cache = get_cache(str(execution_settings(args.root)["cache"]))

    executed = {}
    for path in toc_notebooks(args.root):
        doc = path.relative_to(args.root).with_suffix("").as_posix()
        try:
            _, executed[doc] = cache.merge_match_into_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            raise SystemExit(f"reader_notebooks: {doc} is not in the build's cache; "
                             "build the book first") from None
    glue = {doc: glued_values(nb) for doc, nb in executed.items()}
    chapters = [(doc, reader_notebook(nb, doc, glue, site)) for doc, nb in executed.items()]
    for doc, nb in chapters:
        targets = [args.out / f"{doc}.ipynb"]
        if args.site:
            targets.append(args.root / "_build" / "html" / "_sources" / f"{doc}.ipynb")
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
        print(f"wrote {targets[0].relative_to(args.root) if targets[0].is_relative_to(args.root) else targets[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
