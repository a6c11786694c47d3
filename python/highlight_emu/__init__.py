"""highlight-emu from Python: emulate HighLight (MICRO 2023) and the designs it is compared with.

Every function calls the same library as the ``highlight-emu`` command line and returns what its
JSON holds, as dicts and lists:

- ``run(design, m=, k=, n=, a=, b=, a_array=, b_array=, ...)``: one product on one design, the
  ``run --json`` object; ``return_z=True`` adds Z as a NumPy int32 array under ``"z"``.
- ``compare(...)``, ``sweep(path, out=)``, ``model(onnx_path, input=...)``: their rows, with the
  columns of a sweep's ``results.csv``, as a list of dicts with ``.to_pandas()``.
- ``prune(array, pattern)`` and ``patterns.spec(pattern)``: on NumPy arrays, without files.

Bad input raises ``ValueError`` with the command line's one-line message; a result that disagrees
with its reference (Z with the dense product, the GPU with the CPU) raises ``MismatchError``.
"""

import json

from . import _native, patterns
from ._native import MismatchError

__all__ = ["run", "compare", "sweep", "model", "prune", "patterns", "designs", "Rows", "MismatchError"]


class Rows(list):
    """Rows as a list of dicts, one per point and design."""

    def to_pandas(self):
        """The rows as a pandas DataFrame (pandas must be installed)."""
        try:
            import pandas
        except ImportError as e:
            raise ImportError("to_pandas needs pandas: pip install pandas") from e
        return pandas.DataFrame(list(self))


def run(design, **kwargs):
    """Emulate Z = A x B on one design; the ``run --json`` object as a dict.

    Operands: ``a_array``/``b_array`` (NumPy, A is M x K and B is K x N; integers must fit int8,
    floats are quantised to int8 as the CLI quantises float32 files), ``a_file``/``b_file``
    (.npy), or generated from the patterns ``a``/``b`` (default dense) with ``m``, ``k``, ``n``
    and ``seed``. Also: ``objective``, ``a_format``, ``b_format``, ``swap``, ``arch``,
    ``mapping`` (Timeloop YAML), ``backend`` (auto, gpu, cpu), ``adapter``, ``check``, ``ert``,
    ``ert_map``, ``return_z``.
    """
    text, z = _native.run(design, **kwargs)
    result = json.loads(text)
    if z is not None:
        result["z"] = z
    return result


def compare(**kwargs):
    """Every design on one point (``a_sparsity``, ``b_sparsity`` with ``m``, ``k``, ``n``; or the
    user's ``a_array`` and ``b_array``): one row per design, normalised to TC."""
    return Rows(json.loads(_native.compare(**kwargs)))


def sweep(path, **kwargs):
    """Run a sweep file (e.g. ``workloads/fig13.toml``) on every design: its rows. With ``out``,
    the CLI's output folder (results.csv, results.json, summary.md, figures) is written too."""
    return Rows(json.loads(_native.sweep(str(path), **kwargs)))


def model(path, input=None, **kwargs):
    """Run an ONNX model once, capture every Conv, Gemm and MatMul with its real weights and
    activation, and emulate each layer on every design at each ``weight_sparsity``: its rows.

    ``input``: one NumPy array (a model of one input) or a dict of arrays by input name; inputs
    not given are seeded. Also ``input_shapes``, ``image``, ``designs``, ``out`` and the rest of
    the CLI's ``model`` options, by the same names with underscores.
    """
    return Rows(json.loads(_native.model(str(path), input=input, **kwargs)))


def prune(array, pattern):
    """Prune a 2-D array (rows x K, structure along K) to ``pattern`` by the paper's rule; the
    result has the input's dtype (int8, float32 or float64)."""
    return _native.prune(array, pattern)


def designs():
    """The designs ``run`` accepts."""
    return list(_native.designs())
