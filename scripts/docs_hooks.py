"""MkDocs hook: the docstrings' Sphinx roles read as plain code on the site.

The code's numpydoc docstrings name things as ``:class:`~pkg.mod.Name```, which mkdocstrings
renders as ``:class:`` followed by the code ``~pkg.mod.Name``: the role is dropped, a ``~``
keeps the last component only (as Sphinx shows it), and the ``::`` that introduces a literal
block ends its sentence with ``:``.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc|obj|ref):(<code>)")
_TILDE = re.compile(r"<code>~(?:[\w]+\.)*([\w]+)</code>")
_LITERAL = re.compile(r"::(</p>)")


def on_page_content(html: str, **_: object) -> str:
    html = _ROLE.sub(r"\1", html)
    html = _TILDE.sub(r"<code>\1</code>", html)
    return _LITERAL.sub(r":\1", html)
