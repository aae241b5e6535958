"""Make the reader's notebooks: what Colab and the site's download button serve.

The chapters are MyST notebooks: their prose holds ``{glue:text}`` roles, citations,
cross-references and ``:::{dropdown}`` blocks that only the book build turns into text,
and they are committed without outputs. Opened as they are in Colab, a reader sees raw
markup and no results. This command writes, for every chapter of ``_toc.yml``, a plain
notebook that reads well anywhere:

* outputs from the executed build (read from the build's jupyter-cache);
* glued values filled in, formatted as the page formats them;
* citations as author-year links to the site's references page, ``{doc}``/``{ref}``
  cross-references as links to the site, exercises and theorems numbered as on the
  site, solutions in ``<details>``, admonitions and theorems as quoted blocks,
  list-tables as Markdown tables;
* glue's bookkeeping outputs removed.

Each written notebook is checked for MyST left over; any leftover fails the command.

    jupyter-book build .                         # (or the README's build command) first
    python scripts/reader_notebooks.py           # -> _build/reader/<chapter>.ipynb
    python scripts/reader_notebooks.py --site    # also serve them from the site's download
                                                 # button, and point its Colab buttons at them

The publish workflow pushes ``_build/reader`` to the ``reader`` branch (same paths as the
chapters), so ``--site`` rewrites every page's Colab launch link from the source branch
(``repository.branch``) to ``reader``: Colab then opens the executed, readable notebook.
Binder keeps the source branch, where its environment lives.

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
ROLE = re.compile(r"\{(cite|cite:p|cite:t|doc|ref|numref|eq|mod|func|class|meth|attr)\}`([^`]+)`")
PY_ROLES = ("mod", "func", "class", "meth", "attr")  # autodoc targets on the API page
LABEL_LINE = re.compile(r"^\(([\w:.-]+)\)=\s*$", re.M)
FENCE = re.compile(r"^(:{3,})\{(\w[\w:-]*)\}[ \t]*(.*)$")
NUMBERED = {"exercise": "Exercise", "prf:theorem": "Theorem"}  # blocks the site numbers
LEFTOVER = re.compile(r"\{(glue|cite|doc|ref|numref|eq|mod|func|class|meth|attr)[^}]*\}`|^:{3,}\{|^\([\w:.-]+\)=\s*$", re.M)


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


def chapter_numbers(root: Path) -> dict:
    """The number the site gives each chapter: ``_toc.yml``'s numbered parts, counted on
    across parts (``html.use_multitoc_numbering``), so the fourth chapter's second exercise
    reads "Exercise 4.2" in the reader's notebook as on the page."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    numbers, k = {}, 0
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            if part.get("numbered"):
                k += 1
                numbers[chapter["file"]] = k
    return numbers


class Site:
    """What links need: the site's address, page titles and labelled sections."""

    def __init__(self, root: Path, baseurl: str, bib: dict, macros: dict | None = None):
        self.root, self.baseurl, self.bib = root, baseurl.rstrip("/") + "/", bib
        self.macros = macros or {}  # LaTeX macros the site's MathJax defines, e.g. \R
        self.titles, self.labels = {}, {}
        self.chapters = chapter_numbers(root)  # {doc: 4}: the site's "Exercise 4.2"
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
            self._number_blocks(doc, text)

    def _number_blocks(self, doc: str, text: str) -> None:
        """Exercises and theorems are numbered in page order, as on the site; their
        ``:label:`` becomes a link target (``{ref}``) titled "Exercise 3"."""
        counts = dict.fromkeys(NUMBERED, 0)
        prefix = f"{self.chapters[doc]}." if doc in self.chapters else ""
        for m in re.finditer(r"^:{3,}\{([\w:-]+)\}[^\n]*\n(?::[\w-]+:[^\n]*\n)*", text, re.M):
            kind = m.group(1)
            if kind in NUMBERED:
                counts[kind] += 1
                label = re.search(r"^:label: *(\S+)", m.group(0), re.M)
                if label:
                    self.labels[label.group(1)] = (doc, f"{NUMBERED[kind]} {prefix}{counts[kind]}")

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
    if kind in PY_ROLES:  # the API reference's anchor is the full dotted name
        target = target.lstrip("~.")
        shown = label or (target.rsplit(".", 1)[-1] if content.startswith("~") else target)
        anchor = f"module-{target}" if kind == "mod" else target  # autodoc's HTML ids
        return f"[`{shown}`]({site.page('book/api')}#{anchor})"
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

def _blocks(lines: list[str], site: Site | None = None) -> list[str]:
    """Turn ``:::{dropdown}``/``{admonition}``/``{list-table}``, exercises, solutions,
    theorems and proofs (and the like) into Markdown/HTML."""
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
        options = dict(re.match(r"^:([\w-]+): *(.*)$", ln).groups() for ln in lines[i + 1:j]
                       if re.match(r"^:[\w-]+:", ln))
        body = _blocks([ln for ln in lines[i + 1:j] if not re.match(r"^:[\w-]+:", ln)], site)
        while body and not body[0].strip():  # the blank line after the options
            body = body[1:]
        out += _block(name, title, options, body, site)
        i = j + 1
    return out


def _numbered(label: str | None, site: Site | None, fallback: str) -> str:
    """"Exercise 3" for a labelled exercise (numbered by :class:`Site`), else ``fallback``."""
    if label and site is not None and label in site.labels:
        return site.labels[label][1]
    return fallback


def _block(name: str, title: str, options: dict, body: list[str], site: Site | None) -> list[str]:
    label = options.get("label")
    anchor = [f'<a id="{label}"></a>', ""] if label else []
    if name == "dropdown":
        return [f"<details><summary>{title or 'Details'}</summary>", "", *body, "", "</details>"]
    if name == "solution":  # the argument is the exercise's label
        what = _numbered(title, site, "Exercise").lower()
        return [f"<details><summary>Solution to {what}</summary>", "", *body, "", "</details>"]
    if name == "list-table":
        return _list_table(body, title, header="header-rows" in options)
    if name in NUMBERED:
        heading = _numbered(label, site, NUMBERED[name]) + (f" ({title})" if title else "")
        if name == "exercise":
            return [*anchor, f"**{heading}.**", "", *body]
        return [*anchor, f"> **{heading}.**", ">", *[f"> {ln}" if ln else ">" for ln in body]]
    if name == "prf:proof":
        return ["*Proof.*", "", *body, "", "∎"]
    heading = title or name.split(":")[-1].capitalize()  # admonition, note, tip, warning, ...
    return [f"> **{heading}**", ">", *[f"> {ln}" if ln else ">" for ln in body]]


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
    return "\n".join(_blocks(text.split("\n"), site))


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


READER_BRANCH = "reader"


def point_colab_at_reader(html_dir: Path, repo_url: str, branch: str, reader: str = READER_BRANCH) -> int:
    """Rewrite the Colab launch links of every page under ``html_dir`` from ``branch`` to
    ``reader``; returns how many pages changed. Fails if no page has a Colab link (the
    theme changed how it writes them, and the buttons would silently stay on the source)."""
    repo = repo_url.rstrip("/").removeprefix("https://github.com/")
    old = f"colab.research.google.com/github/{repo}/blob/{branch}/"
    new = f"colab.research.google.com/github/{repo}/blob/{reader}/"
    changed = 0
    for page in html_dir.rglob("*.html"):
        text = page.read_text()
        if old in text:
            page.write_text(text.replace(old, new))
            changed += 1
    if not changed:
        raise SystemExit(f"reader_notebooks: no page under {html_dir} links to {old}")
    return changed


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
    if args.site:
        repo = config.get("repository") or {}
        n = point_colab_at_reader(args.root / "_build" / "html", repo["url"], repo.get("branch", "main"))
        print(f"Colab buttons of {n} pages now open the {READER_BRANCH!r} branch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
