"""Sphinx extension: read rvt_lib's docstrings as the source writes them.

The library documents fields and arguments as aligned ``name: description`` lines, with
continuation lines indented under the description (readable in ``help()`` and in the
editor). Read as reStructuredText, a continuation line is an "unexpected indentation".
This hook turns each such block into an RST field list before autodoc renders it, and
reads an indented block after a paragraph as the source means it, a code example or a
formula (an RST literal block), so the API reference (``book/api.md``) builds without
warnings and keeps the source's form. Google-style ``Args:`` sections are napoleon's.

With ``RVT_INTERSPHINX=1`` (the publish workflow, which is online) it also turns on
intersphinx, so that ``torch.Tensor``, ``numpy.ndarray`` or ``pandas.DataFrame`` in a
signature link to those projects' documentation. Offline builds (CI, a reader's machine)
leave it off: fetching the inventories would fail, and a failed fetch is a warning.
"""
from __future__ import annotations

import os
import re

FIELD = re.compile(r"^([A-Za-z_]\w*(?:, [A-Za-z_]\w*)*):\s+(\S.*)$")
RST_FIELD = re.compile(r"^:[\w-]+:(\s|$)")        # ``:param x:`` (napoleon's output)
LIST_ITEM = re.compile(r"^\s*([*+-]|\d+[.)])\s")


def fields_to_rst(lines: list[str]) -> list[str]:
    """``name: text`` lines (at the docstring's own indentation, continuation lines
    indented deeper) -> ``:name: text`` field lists, with the blank lines RST needs."""
    out, in_block, literal = [], False, False
    for line in lines:
        indented = line[:1].isspace()
        if not line.strip():
            out.append(line)
            in_block = False
            continue
        if not indented:
            literal = line.rstrip().endswith("::")
        starts_paragraph = not out or not out[-1].strip() or in_block
        m = None if indented or literal or not starts_paragraph else FIELD.match(line)
        if m:
            if out and out[-1].strip() and not in_block:
                out.append("")
            out.append(f":{m.group(1)}: {m.group(2)}")
            in_block = True
        elif in_block and indented:
            out.append("    " + line.strip())
        else:
            if in_block:
                out.append("")
                in_block = False
            out.append(line)
    return out


def indented_blocks_literal(lines: list[str]) -> list[str]:
    """An indented block after a paragraph and a blank line is code or a formula: end the
    paragraph with `` ::`` (RST drops it from the text) unless it ends with ``::``."""
    out = list(lines)
    for i in range(2, len(out)):
        para, blank, block = out[i - 2], out[i - 1], out[i]
        if (block[:1].isspace() and block.strip() and not blank.strip() and para.strip()
                and not para[:1].isspace() and not para.rstrip().endswith("::")
                and not RST_FIELD.match(para) and not LIST_ITEM.match(para)):
            out[i - 2] = para.rstrip() + " ::"
    return out


def _process(app, what, name, obj, options, lines):
    lines[:] = fields_to_rst(indented_blocks_literal(lines))


INTERSPHINX = {
    "python": ("https://docs.python.org/3", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
}


def _intersphinx(app, config):
    config.intersphinx_mapping = {**INTERSPHINX, **(config.intersphinx_mapping or {})}


def setup(app):
    app.connect("autodoc-process-docstring", _process)
    if os.environ.get("RVT_INTERSPHINX") == "1":
        app.setup_extension("sphinx.ext.intersphinx")
        app.connect("config-inited", _intersphinx, priority=400)  # before intersphinx reads it
    return {"parallel_read_safe": True, "parallel_write_safe": True}
