"""Public names of a package imported on first use, so importing the package stays cheap."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_attributes(
    package: str, module_of: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` that imports each name from its module on first use,
    and the ``__dir__`` that lists those names before they are imported (so ``dir()``,
    completion and Sphinx see them).

    Parameters
    ----------
    package
        The package's ``__name__``.
    module_of
        Each public name and the module (relative to ``package``, e.g. ``"._load"``)
        that defines it.

    Examples
    --------
    In a package's ``__init__.py``::

        __getattr__, __dir__ = lazy_attributes(__name__, {"load": "._load"})
    """
    namespace = import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        namespace[name] = value  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(module_of))

    return __getattr__, __dir__
