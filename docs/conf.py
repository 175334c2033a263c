"""Sphinx configuration: API pages are generated from docstrings with autodoc."""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_scripts"))

import layer_diagram  # noqa: E402  (docs/_scripts: the layer figure of architecture.rst, drawn from the imports)

layer_diagram.write(os.path.join(os.path.dirname(os.path.abspath(__file__)), "_generated", "layers.svg"))

project = "FlagEmbedding"
author = "FlagEmbedding re-implementation authors"
copyright = "2026, the FlagEmbedding re-implementation authors (MIT license)"  # noqa: A001 (the name Sphinx reads)
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
suppress_warnings = ["autodoc.import_object"]
nitpicky = False
html_theme = "furo"
html_title = "FlagEmbedding"
html_short_title = "FlagEmbedding"
html_static_path = ["_static"]  # the logo; docs/_static/figures/ holds the benchmark figures (benchmarks/plot.py)
html_logo = "_static/logo.svg"
html_favicon = "_static/logo.svg"
html_theme_options = {
    "sidebar_hide_name": False,
    "navigation_with_keys": True,
}
exclude_patterns = ["_build", "_generated", "_scripts"]
