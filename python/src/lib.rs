//! The Python module `highlight_emu._native`: the library's `api` functions on NumPy arrays.
//!
//! It only converts: Python arguments into `api` requests, results into the CLI's JSON text
//! (which `highlight_emu/__init__.py` parses into dicts) and NumPy arrays. Errors raise
//! `ValueError` with the CLI's one-line message, or `MismatchError` where the CLI exits 3.

use std::path::PathBuf;

use highlight_emu::api::{
    self, Array, Backend, CompareRequest, Energy, ModelRequest, NamedArray, OperandSource, RunRequest,
    SweepRequest,
};
use highlight_emu::design::Design;
use highlight_emu::matrix::Matrix;
use highlight_emu::operand::npy::Values;
use highlight_emu::run::BackendChoice;
use highlight_emu::search::{Objective, Search};
use highlight_emu::sweep::Shard;
use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

create_exception!(
    _native,
    MismatchError,
    PyRuntimeError,
    "A result disagrees with its reference (the CLI's exit 3)."
);

/// The error as Python sees it.
fn py_err(err: anyhow::Error) -> PyErr {
    let line = api::one_line(&err);
    if api::is_mismatch(&err) { MismatchError::new_err(line) } else { PyValueError::new_err(line) }
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The dtypes an array may have, as errors list them.
const DTYPES: &str = "int8, uint8, int16, int32, int64, float16, float32, float64";

/// Any array-like as an [`Array`] (values in C order, whatever its strides), in its own dtype;
/// `what` names it in errors.
fn array(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Array> {
    let np = obj.py().import("numpy")?;
    let arr = np.call_method1("asarray", (obj,))?;
    macro_rules! try_as {
        ($($t:ty => $variant:ident),+) => {
            $(
                if let Ok(a) = arr.extract::<PyReadonlyArrayDyn<'_, $t>>() {
                    let shape = a.shape().to_vec();
                    return Ok(Array { shape, values: Values::$variant(a.as_array().iter().copied().collect()) });
                }
            )+
        };
    }
    try_as!(i8 => I8, u8 => U8, i16 => I16, i32 => I32, i64 => I64, half::f16 => F16, f32 => F32, f64 => F64);
    let dtype = arr.getattr("dtype")?.str()?.to_string();
    Err(PyValueError::new_err(format!("{what}: dtype {dtype}; accepted dtypes: {DTYPES}")))
}

/// A size or seed: a non-negative integer (Python's own errors would be OverflowError or
/// TypeError).
fn count(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<u64>> {
    obj.map(|o| {
        o.extract::<u64>().map_err(|_| {
            let shown = o.repr().map_or_else(|_| "?".to_string(), |r| r.to_string());
            PyValueError::new_err(format!("{what} {shown}: accepted a non-negative integer"))
        })
    })
    .transpose()
}

fn size(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<usize>> {
    count(obj, what)?
        .map(|v| usize::try_from(v).map_err(|_| PyValueError::new_err(format!("{what} {v}: too large"))))
        .transpose()
}

fn choice<T: clap::ValueEnum>(what: &str, text: &str) -> PyResult<T> {
    api::parse_choice(what, text).map_err(py_err)
}

fn backend(choice_text: &str, adapter: Option<String>, check: bool) -> PyResult<Backend> {
    Ok(Backend { choice: choice::<BackendChoice>("backend", choice_text)?, adapter, check })
}

fn search(objective: &str, a_format: Option<&str>, b_format: Option<&str>) -> PyResult<Search> {
    Ok(Search {
        objective: choice::<Objective>("objective", objective)?,
        mapping: None,
        a_format: a_format.map(|f| choice("a_format", f)).transpose()?,
        b_format: b_format.map(|f| choice("b_format", f)).transpose()?,
    })
}

/// An operand from an array or a file; both is an error.
fn operand(
    array_obj: Option<&Bound<'_, PyAny>>,
    file: Option<PathBuf>,
    name: &str,
) -> PyResult<Option<OperandSource>> {
    match (array_obj, file) {
        (Some(_), Some(_)) => {
            Err(PyValueError::new_err(format!("give {name}_array or {name}_file, not both")))
        }
        (Some(obj), None) => {
            let label = format!("{name}_array");
            Ok(Some(OperandSource::Array { array: array(obj, &label)?, label }))
        }
        (None, Some(path)) => Ok(Some(OperandSource::File(path))),
        (None, None) => Ok(None),
    }
}

fn shard(text: Option<&str>) -> PyResult<Option<Shard>> {
    text.map(|t| t.parse::<Shard>().map_err(|e| py_err(e.into()))).transpose()
}

/// Z = A x B on one design: the `run --json` object as JSON text, and Z when asked for.
#[pyfunction]
#[pyo3(signature = (design, m=None, k=None, n=None, a=None, b=None, a_array=None, b_array=None,
    a_file=None, b_file=None, seed=None, objective="edp", a_format=None, b_format=None, swap=false,
    arch=None, mapping=None, backend="auto", adapter=None, check=false, ert=None, ert_map=None,
    save=None, return_z=false))]
#[allow(clippy::too_many_arguments)]
fn run<'py>(
    py: Python<'py>,
    design: &str,
    m: Option<&Bound<'py, PyAny>>,
    k: Option<&Bound<'py, PyAny>>,
    n: Option<&Bound<'py, PyAny>>,
    a: Option<String>,
    b: Option<String>,
    a_array: Option<&Bound<'py, PyAny>>,
    b_array: Option<&Bound<'py, PyAny>>,
    a_file: Option<PathBuf>,
    b_file: Option<PathBuf>,
    seed: Option<&Bound<'py, PyAny>>,
    objective: &str,
    a_format: Option<&str>,
    b_format: Option<&str>,
    swap: bool,
    arch: Option<PathBuf>,
    mapping: Option<PathBuf>,
    backend: &str,
    adapter: Option<String>,
    check: bool,
    ert: Option<PathBuf>,
    ert_map: Option<PathBuf>,
    save: Option<PathBuf>,
    return_z: bool,
) -> PyResult<(String, Option<Bound<'py, PyArrayDyn<i32>>>)> {
    let request = RunRequest {
        design: choice::<Design>("design", design)?,
        m: size(m, "m")?,
        k: size(k, "k")?,
        n: size(n, "n")?,
        a,
        b,
        a_input: operand(a_array, a_file, "a")?,
        b_input: operand(b_array, b_file, "b")?,
        seed: count(seed, "seed")?.unwrap_or(1),
        search: search(objective, a_format, b_format)?,
        mapping,
        swap,
        arch,
        backend: self::backend(backend, adapter, check)?,
        energy: Energy { ert, ert_map },
        save,
    };
    let out = py.detach(|| api::run(&request)).map_err(py_err)?;
    let json = to_json(&out.result)?;
    api::verdict(&out.result, "").map_err(py_err)?;
    let z = return_z.then(|| matrix(py, out.z)).transpose()?;
    Ok((json, z))
}

fn matrix<'py, T: numpy::Element>(py: Python<'py>, m: Matrix<T>) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    m.data.into_pyarray(py).reshape(vec![m.rows, m.cols])
}

/// Every design on one point: one row per design, as a sweep's results.csv, in JSON text.
#[pyfunction]
#[pyo3(signature = (m=None, k=None, n=None, a_sparsity=0.0, b_sparsity=0.0, a_array=None,
    b_array=None, a_file=None, b_file=None, seed=None, objective="edp", a_format=None, b_format=None,
    backend="auto", adapter=None, check=false, ert=None, ert_map=None))]
#[allow(clippy::too_many_arguments)]
fn compare(
    py: Python<'_>,
    m: Option<&Bound<'_, PyAny>>,
    k: Option<&Bound<'_, PyAny>>,
    n: Option<&Bound<'_, PyAny>>,
    a_sparsity: f64,
    b_sparsity: f64,
    a_array: Option<&Bound<'_, PyAny>>,
    b_array: Option<&Bound<'_, PyAny>>,
    a_file: Option<PathBuf>,
    b_file: Option<PathBuf>,
    seed: Option<&Bound<'_, PyAny>>,
    objective: &str,
    a_format: Option<&str>,
    b_format: Option<&str>,
    backend: &str,
    adapter: Option<String>,
    check: bool,
    ert: Option<PathBuf>,
    ert_map: Option<PathBuf>,
) -> PyResult<String> {
    let request = CompareRequest {
        m: size(m, "m")?,
        k: size(k, "k")?,
        n: size(n, "n")?,
        a_input: operand(a_array, a_file, "a")?,
        b_input: operand(b_array, b_file, "b")?,
        a_sparsity,
        b_sparsity,
        seed: count(seed, "seed")?.unwrap_or(1),
        search: search(objective, a_format, b_format)?,
        backend: self::backend(backend, adapter, check)?,
        energy: Energy { ert, ert_map },
    };
    let compared = py.detach(|| api::compare(&request, |_| ())).map_err(py_err)?;
    compared.verdict().map_err(py_err)?;
    to_json(&compared.rows().map_err(py_err)?)
}

/// A sweep file on every design: its rows as results.csv has them, in JSON text; with `out`, the
/// CLI's output folder too.
#[pyfunction]
#[pyo3(signature = (path, out=None, shard=None, objective="edp", accuracy=None, backend="auto",
    adapter=None, check=false, ert=None, ert_map=None))]
#[allow(clippy::too_many_arguments)]
fn sweep(
    py: Python<'_>,
    path: PathBuf,
    out: Option<PathBuf>,
    shard: Option<&str>,
    objective: &str,
    accuracy: Option<PathBuf>,
    backend: &str,
    adapter: Option<String>,
    check: bool,
    ert: Option<PathBuf>,
    ert_map: Option<PathBuf>,
) -> PyResult<String> {
    let request = SweepRequest {
        file: path,
        out: out.map(Some),
        accuracy,
        shard: self::shard(shard)?,
        objective: choice("objective", objective)?,
        backend: self::backend(backend, adapter, check)?,
        energy: Energy { ert, ert_map },
    };
    let study = py.detach(|| api::sweep(&request)).map_err(py_err)?;
    api::verdict_of(&study.results).map_err(py_err)?;
    to_json(&api::table_rows(&study.results).map_err(py_err)?)
}

/// An ONNX model's layers on every design at each weight sparsity: its rows, as `sweep`.
/// `input` is one array (a model of one input) or a dict of them by input name.
#[pyfunction]
#[pyo3(signature = (path, input=None, input_files=vec![], input_shapes=vec![], image=None,
    size=None, mean=None, std=None, seed=None, activations=false, weight_sparsity=None, designs=None,
    out=None, export_workload=None, accuracy=None, shard=None, objective="edp", backend="auto",
    adapter=None, check=false, ert=None, ert_map=None))]
#[allow(clippy::too_many_arguments)]
fn model(
    py: Python<'_>,
    path: PathBuf,
    input: Option<&Bound<'_, PyAny>>,
    input_files: Vec<String>,
    input_shapes: Vec<String>,
    image: Option<String>,
    size: Option<String>,
    mean: Option<Vec<f32>>,
    std: Option<Vec<f32>>,
    seed: Option<&Bound<'_, PyAny>>,
    activations: bool,
    weight_sparsity: Option<Vec<f64>>,
    designs: Option<Vec<String>>,
    out: Option<PathBuf>,
    export_workload: Option<PathBuf>,
    accuracy: Option<PathBuf>,
    shard: Option<&str>,
    objective: &str,
    backend: &str,
    adapter: Option<String>,
    check: bool,
    ert: Option<PathBuf>,
    ert_map: Option<PathBuf>,
) -> PyResult<String> {
    let mut request = ModelRequest::new(path);
    request.input_arrays = match input {
        None => Vec::new(),
        Some(obj) => match obj.cast::<PyDict>() {
            Ok(dict) => dict
                .iter()
                .map(|(name, value)| {
                    let name: String = name.extract().map_err(|_| {
                        PyValueError::new_err("input: a dict of arrays by the model's input names (str)")
                    })?;
                    let array = array(&value, &format!("input {name:?}"))?;
                    Ok(NamedArray { name: Some(name), array })
                })
                .collect::<PyResult<_>>()?,
            Err(_) => vec![NamedArray { name: None, array: array(obj, "input")? }],
        },
    };
    request.input_files = input_files;
    request.input_shapes = input_shapes;
    request.image = image;
    request.size = size;
    if let Some(mean) = mean {
        request.mean = mean;
    }
    if let Some(std) = std {
        request.std = std;
    }
    request.seed = count(seed, "seed")?.unwrap_or(1);
    request.activations = activations;
    if let Some(w) = weight_sparsity {
        request.weight_sparsity = w;
    }
    request.designs =
        designs.unwrap_or_default().iter().map(|d| choice("design", d)).collect::<PyResult<_>>()?;
    request.out = out.map(Some);
    request.export_workload = export_workload;
    request.accuracy = accuracy;
    request.shard = self::shard(shard)?;
    request.objective = choice("objective", objective)?;
    request.backend = self::backend(backend, adapter, check)?;
    request.energy = Energy { ert, ert_map };
    let (study, _, _) = py.detach(|| api::model(&request)).map_err(py_err)?;
    let study = study.expect("model always emulates here");
    api::verdict_of(&study.results).map_err(py_err)?;
    to_json(&api::table_rows(&study.results).map_err(py_err)?)
}

/// A pattern's canonical form, density, sparsity and ruled ranks, in JSON text.
#[pyfunction]
fn spec(pattern: &str) -> PyResult<String> {
    to_json(&api::spec(pattern).map_err(py_err)?)
}

/// A 2-D array (rows x K) pruned to a pattern by the paper's rule, in its own dtype (int8,
/// float32 or float64).
#[pyfunction]
fn prune<'py>(py: Python<'py>, array: &Bound<'py, PyAny>, pattern: &str) -> PyResult<Bound<'py, PyAny>> {
    let given = self::array(array, "array")?;
    let pruned = py.detach(|| api::prune_array(given, pattern, "array")).map_err(py_err)?;
    let shape = pruned.shape;
    Ok(match pruned.values {
        Values::I8(v) => v.into_pyarray(py).reshape(shape)?.into_any(),
        Values::F32(v) => v.into_pyarray(py).reshape(shape)?.into_any(),
        Values::F64(v) => v.into_pyarray(py).reshape(shape)?.into_any(),
        other => return Err(PyValueError::new_err(format!("array: prune returned dtype {}", other.dtype()))),
    })
}

/// The designs `run` accepts, by the names the CLI uses.
#[pyfunction]
fn designs() -> Vec<&'static str> {
    Design::ALL.iter().map(|d| d.id()).collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MismatchError", m.py().get_type::<MismatchError>())?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(model, m)?)?;
    m.add_function(wrap_pyfunction!(spec, m)?)?;
    m.add_function(wrap_pyfunction!(prune, m)?)?;
    m.add_function(wrap_pyfunction!(designs, m)?)?;
    Ok(())
}
