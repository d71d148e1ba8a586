"""Sphinx configuration for the bluesky-timelapse documentation."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

project = "bluesky-timelapse"
author = "bluesky-timelapse contributors"
copyright = "bluesky-timelapse contributors"

try:
    release = _version("bluesky-timelapse")
except PackageNotFoundError:  # building from a tree that is not installed
    release = "0+unknown"
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_parser",
]

source_suffix = {
    ".rst": "restructuredtext",
    ".md": "markdown",
}
root_doc = "index"
exclude_patterns = ["_build"]

# Docstrings are numpydoc style.
napoleon_google_docstring = False
napoleon_numpy_docstring = True

autodoc_typehints = "description"
autodoc_member_order = "bysource"

nitpicky = False

# "term" / ": definition" lists in the pages.
myst_enable_extensions = ["deflist"]

html_theme = "furo"
html_title = f"bluesky-timelapse {release}"
