"""What replaced a name that old code uses: NumPy names that are gone, Python 2 names, modules that
moved. Code written for another NumPy or for Python 2 fails with an accurate error that does not
say why; the hint does. Data first, then one function that reads an error against it."""

from __future__ import annotations

import re

import numpy as np

# NumPy names that no longer exist, and what to write instead. NumPy's own message already says so
# for some (np.NaN, np.float_); the hint is added only where it does not ("Use ..." is absent).
NUMPY_REMOVED = {
    "product": "np.prod",
    "cumproduct": "np.cumprod",
    "sometrue": "np.any",
    "alltrue": "np.all",
    "asscalar": "a.item()",
    "rank": "np.ndim",
    "msort": "np.sort(a, axis=0)",
    "in1d": "np.isin",
    "trapz": "np.trapezoid",
    "alen": "len(a)",
    "bool8": "np.bool_",
    "int0": "np.intp",
    "uint0": "np.uintp",
    "float": "float",
    "int": "int",
    "bool": "bool",
    "object": "object",
    "complex": "complex",
    "str": "str",
    "long": "int",
    "unicode": "str",
    "float_": "np.float64",
    "complex_": "np.complex128",
    "Inf": "np.inf",
    "Infinity": "np.inf",
    "PINF": "np.inf",
    "infty": "np.inf",
    "NINF": "-np.inf",
    "NaN": "np.nan",
    "NAN": "np.nan",
    "round_": "np.round",
    "asfarray": "np.asarray(a, dtype=float)",
    "mat": "np.asmatrix",
    "string_": "np.bytes_",
    "unicode_": "np.str_",
}
# Built-in names of Python 2, and their Python 3 form.
PYTHON2_NAMES = {
    "xrange": "range",
    "raw_input": "input",
    "unicode": "str",
    "long": "int",
    "basestring": "str",
    "unichr": "chr",
    "reduce": "functools.reduce (from functools import reduce)",
    "file": "open",
    "cmp": "(a > b) - (a < b)",
    "execfile": "exec(open(path).read())",
}
# Methods of Python 2's dict.
PYTHON2_DICT_METHODS = {
    "iteritems": ".items()",
    "itervalues": ".values()",
    "iterkeys": ".keys()",
    "has_key": "key in d",
}
# Modules that were renamed or removed, and where their contents went.
MOVED_MODULES = {
    "cPickle": "pickle",
    "Queue": "queue",
    "urllib2": "urllib.request",
    "StringIO": "io.StringIO",
    "cStringIO": "io.StringIO",
    "ConfigParser": "configparser",
}
# Names removed from a module that course code of the CS231n era imports.
MOVED_NAMES = {
    ("scipy.misc", "imread"): "imageio.imread (scipy.misc.imread was removed in SciPy 1.2)",
    ("scipy.misc", "imresize"): "PIL's Image.resize (scipy.misc.imresize was removed in SciPy 1.3)",
    ("itertools", "izip"): "the built-in zip",
    ("string", "maketrans"): "str.maketrans",
}

_NUMPY_ATTRIBUTE = re.compile(r"module 'numpy' has no attribute '(\w+)'")
_NUMPY_EXPIRED = re.compile(r"`np\.(\w+)` was removed")
_NAME = re.compile(r"name '(\w+)' is not defined")
_DICT_METHOD = re.compile(r"'dict' object has no attribute '(\w+)'")
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")


def hint(error_type: str, message: str) -> str:
    """A sentence saying what replaced the missing name the error is about; '' when it is about none
    of them, or when the error's own message says already."""
    numpy = f"NumPy {np.__version__.split('.')[0]}"
    if error_type == "AttributeError":
        found = _NUMPY_ATTRIBUTE.search(message) or _NUMPY_EXPIRED.search(message)
        if found and found.group(1) in NUMPY_REMOVED and "Use " not in message and "use `" not in message:
            name = found.group(1)
            return f"np.{name} is not in {numpy}, which the grader runs: use {NUMPY_REMOVED[name]} instead"
        found = _DICT_METHOD.search(message)
        if found and found.group(1) in PYTHON2_DICT_METHODS:
            name = found.group(1)
            return f"dict.{name} is Python 2's: in Python 3 use {PYTHON2_DICT_METHODS[name]}"
    if error_type == "NameError":
        found = _NAME.search(message)
        if found and found.group(1) in PYTHON2_NAMES:
            name = found.group(1)
            return f"{name} is Python 2's: in Python 3 use {PYTHON2_NAMES[name]}"
    if error_type in ("ImportError", "ModuleNotFoundError"):
        found = _CANNOT_IMPORT.search(message)
        if found:
            name, module = found.groups()
            if module == "numpy" and name in NUMPY_REMOVED:
                return f"np.{name} is not in {numpy}, which the grader runs: use {NUMPY_REMOVED[name]} instead"
            if (module, name) in MOVED_NAMES:
                return f"{module} has no {name} any more: use {MOVED_NAMES[module, name]}"
        found = _NO_MODULE.search(message)
        if found and found.group(1) in MOVED_MODULES:
            module = found.group(1)
            return f"{module} is Python 2's: in Python 3 use {MOVED_MODULES[module]}"
    return ""
