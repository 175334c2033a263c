"""Sphinx configuration: API pages are generated from docstrings with autodoc."""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "FlagEmbedding"
author = "FlagEmbedding re-implementation authors"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
suppress_warnings = ["autodoc.import_object"]
nitpicky = False
html_theme = "alabaster"
exclude_patterns = ["_build"]
