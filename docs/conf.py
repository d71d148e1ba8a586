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
    "myst_nb",  # MyST Markdown pages and the tutorial notebook
]

source_suffix = {
    ".rst": "restructuredtext",
    ".md": "myst-nb",
    ".ipynb": "myst-nb",
}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# The tutorial runs a real timelapse; the test suite executes it with a real
# kernel (tests/test_jupyter.py), the docs show it as written.
nb_execution_mode = "off"

# Docstrings are numpydoc style.
napoleon_google_docstring = False
napoleon_numpy_docstring = True

autodoc_typehints = "description"
autodoc_member_order = "bysource"

nitpicky = False

# "term" / ": definition" lists in the pages.
myst_enable_extensions = ["deflist"]
# Anchors for headings, so that pages can link to a section: page.md#section-title.
myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = f"bluesky-timelapse {release}"
html_theme_options = {
    "logo": {"text": f"bluesky-timelapse {version}"},
    "github_url": "https://github.com/bluesky-timelapse/bluesky-timelapse",
    "navbar_align": "left",
    "header_links_before_dropdown": 5,
    "navigation_depth": 3,
    "show_toc_level": 2,
    "show_nav_level": 1,
    "navigation_with_keys": False,
    "use_edit_page_button": False,
    # Everything the pages need is in the build: no version switcher JSON, no
    # analytics, nothing fetched from the network when building or reading.
    "check_switcher": False,
}
