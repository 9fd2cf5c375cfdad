"""Retraining: collect examples, embed them with a base, train a new head, export, swap it in.

``edgetm.train(data, out, options)`` is this package called as a function: the public API promises
``edgetm.train(...)``, and a package and a function cannot share that name any other way once a
submodule has been imported (Python then binds the package to the name).
"""

from __future__ import annotations

import sys
import types


class _Callable(types.ModuleType):
    def __call__(self, *args, **kwargs):
        """``edgetm.train.retrain.train``: train a head and export it; returns the ``Report``."""
        from edgetm.train.retrain import train

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _Callable
