//! The model's inputs as the user gives them (issue 19): before tract types the graph, every
//! graph input gets a concrete type and shape, from `--input [NAME=]x.npy`, `--image` with
//! `--size`, `--input-shape [NAME=]1x3x224x224`, or seeded values. A symbolic dimension
//! (`batch`, `sequence`, `height`) takes the value the first input that has it gives, so every
//! Concat, Resize and Reshape over symbols sees numbers. Exported models declare dynamic axes
//! (`torch.onnx.export(..., dynamic_axes=...)`); without this they could not be typed.

use std::collections::HashMap;
use std::path::Path;

use tract_onnx::pb;
use tract_onnx::prelude::*;

use super::ModelError;
use crate::operand::npy::{self, Array, Values};

/// What the user gave for the model's inputs (the CLI's flags, unparsed).
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// `--input [NAME=]x.npy`, repeatable.
    pub files: Vec<String>,
    /// Arrays given in memory (the Python package's `input`).
    pub arrays: Vec<NamedArray>,
    /// `--input-shape [NAME=]1x3x224x224`, repeatable: the shape of a seeded input.
    pub shapes: Vec<String>,
    /// `--image [NAME=]x.png`.
    pub image: Option<Image>,
    /// The seed of the values of inputs no file gives.
    pub seed: u64,
}

/// An input array given in memory, with the input's name (needed when the model has several).
#[derive(Clone, Debug)]
pub struct NamedArray {
    pub name: Option<String>,
    pub array: Array,
}

/// An image (PNG or JPEG), resized to `size` (height, width; default: the model's), as a
/// 1 x 3 x H x W tensor of (value / 255 - mean) / std per channel.
#[derive(Clone, Debug)]
pub struct Image {
    pub path: String,
    pub size: Option<(usize, usize)>,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// One dimension of a declared input.
#[derive(Clone, Debug, PartialEq)]
enum Dim {
    Fixed(usize),
    /// A `dim_param` (its name) or an unknown dimension (`?`, bound by nothing else).
    Symbol(String),
}

/// A graph input as the model declares it.
struct Declared {
    name: String,
    /// ONNX's `TensorProto.DataType` (0: not declared).
    elem: i32,
    dims: Option<Vec<Dim>>,
}

impl Declared {
    fn shown(&self) -> String {
        match &self.dims {
            None => "no shape".into(),
            Some(d) => {
                let parts: Vec<String> = d
                    .iter()
                    .map(|d| match d {
                        Dim::Fixed(v) => v.to_string(),
                        Dim::Symbol(s) => s.clone(),
                    })
                    .collect();
                format!("[{}]", parts.join(", "))
            }
        }
    }
}

/// Where one input's values come from.
enum Source<'a> {
    File(&'a str),
    /// An array in memory, by its label in messages.
    Array(&'a str, &'a Array),
    Image(&'a Image, &'a str),
    Shape(&'a str, Vec<usize>),
    Seeded,
}

impl Source<'_> {
    fn flag(&self) -> &'static str {
        match self {
            Source::File(_) => "--input",
            Source::Array(..) => "input",
            Source::Image(..) => "--image",
            Source::Shape(..) => "--input-shape",
            Source::Seeded => "the seeded input",
        }
    }
}

fn declared_inputs(graph: &pb::GraphProto) -> Vec<Declared> {
    use pb::tensor_shape_proto::dimension::Value as D;
    use pb::type_proto::Value;
    let initializers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    graph
        .input
        .iter()
        .filter(|i| !initializers.contains(&i.name.as_str()))
        .map(|i| {
            let tensor = match i.r#type.as_ref().and_then(|t| t.value.as_ref()) {
                Some(Value::TensorType(t)) => Some(t),
                _ => None,
            };
            let dims = tensor.and_then(|t| t.shape.as_ref()).map(|s| {
                s.dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(D::DimValue(v)) if *v > 0 => Dim::Fixed(*v as usize),
                        Some(D::DimParam(p)) if !p.is_empty() => Dim::Symbol(p.clone()),
                        _ => Dim::Symbol("?".into()),
                    })
                    .collect()
            });
            Declared { name: i.name.clone(), elem: tensor.map_or(0, |t| t.elem_type), dims }
        })
        .collect()
}

/// `NAME=rest` when NAME is one of the model's inputs; a `NAME=` that names none is an error.
fn split_named<'t>(
    flag: &str,
    text: &'t str,
    declared: &[Declared],
    is_path: bool,
) -> Result<(Option<usize>, &'t str), String> {
    let names = || declared.iter().map(|d| format!("{:?}", d.name)).collect::<Vec<_>>().join(", ");
    if let Some((name, rest)) = text.split_once('=') {
        if let Some(i) = declared.iter().position(|d| d.name == name) {
            return Ok((Some(i), rest));
        }
        if !(is_path && Path::new(text).exists()) {
            return Err(format!("{flag} {text}: the model has no input {name:?}; its inputs: {}", names()));
        }
    }
    if declared.len() == 1 {
        return Ok((Some(0), text));
    }
    Ok((None, text))
}

/// `1x3x224x224` (or with commas) as a shape of positive sizes.
fn parse_shape(text: &str) -> Option<Vec<usize>> {
    let dims: Option<Vec<usize>> =
        text.split(['x', 'X', ',']).map(|d| d.trim().parse::<usize>().ok().filter(|&d| d > 0)).collect();
    dims.filter(|d| !d.is_empty())
}

/// Symbols bound so far: value and the input that bound it.
type Bindings = HashMap<String, (usize, String)>;

/// Checks `shape` against the declared one and binds its symbols.
fn bind(declared: &Declared, shape: &[usize], bound: &mut Bindings, given: &str) -> Result<(), String> {
    let refuse = |why: String| {
        format!(
            "input {:?} is declared {} and {given} gives {shape:?}: {why}",
            declared.name,
            declared.shown()
        )
    };
    if let Some(axis) = shape.iter().position(|&s| s == 0) {
        return Err(refuse(format!("axis {axis} is 0; accepted: positive sizes")));
    }
    let Some(dims) = &declared.dims else { return Ok(()) };
    if dims.len() != shape.len() {
        return Err(refuse(format!("{} dimensions, not {}", dims.len(), shape.len())));
    }
    for (axis, (d, &s)) in dims.iter().zip(shape).enumerate() {
        match d {
            Dim::Fixed(v) if *v != s => return Err(refuse(format!("axis {axis} must be {v}"))),
            Dim::Symbol(sym) if sym != "?" => match bound.get(sym) {
                Some((v, other)) if *v != s => {
                    return Err(refuse(format!("{sym} is already {v} from input {other:?}")));
                }
                Some(_) => {}
                None => {
                    bound.insert(sym.clone(), (s, declared.name.clone()));
                }
            },
            _ => {}
        }
    }
    Ok(())
}

/// The declared shape with its symbols resolved from `bound`; the batch axis (0) defaults to 1.
/// Unresolved symbols are listed in the error.
fn resolve(declared: &Declared, bound: &mut Bindings) -> Result<Vec<usize>, Vec<String>> {
    let dims = declared.dims.as_deref().unwrap_or(&[]);
    let mut shape = Vec::with_capacity(dims.len());
    let mut missing = Vec::new();
    for (axis, d) in dims.iter().enumerate() {
        match d {
            Dim::Fixed(v) => shape.push(*v),
            Dim::Symbol(sym) => match bound.get(sym) {
                Some((v, _)) if sym != "?" => shape.push(*v),
                _ if axis == 0 => {
                    if sym != "?" {
                        bound.insert(sym.clone(), (1, declared.name.clone()));
                    }
                    shape.push(1)
                }
                _ => missing.push(sym.clone()),
            },
        }
    }
    if missing.is_empty() { Ok(shape) } else { Err(missing) }
}

/// The ONNX element type of a tract datum type, for the inputs accepted.
fn onnx_elem(dt: DatumType) -> i32 {
    match dt {
        DatumType::F32 => 1,
        DatumType::U8 => 2,
        DatumType::I8 => 3,
        DatumType::I16 => 5,
        DatumType::I32 => 6,
        DatumType::I64 => 7,
        DatumType::Bool => 9,
        DatumType::F16 => 10,
        DatumType::F64 => 11,
        _ => 0,
    }
}

/// The tract datum type of a declared ONNX element type; `None` for one no input may have here.
fn datum(elem: i32) -> Option<DatumType> {
    Some(match elem {
        1 => DatumType::F32,
        2 => DatumType::U8,
        3 => DatumType::I8,
        5 => DatumType::I16,
        6 => DatumType::I32,
        7 => DatumType::I64,
        9 => DatumType::Bool,
        10 => DatumType::F16,
        11 => DatumType::F64,
        _ => return None,
    })
}

fn from_values(shape: &[usize], values: &Values) -> TractResult<Tensor> {
    match values {
        Values::F16(v) => Tensor::from_shape(shape, v),
        Values::F32(v) => Tensor::from_shape(shape, v),
        Values::F64(v) => Tensor::from_shape(shape, v),
        Values::I8(v) => Tensor::from_shape(shape, v),
        Values::U8(v) => Tensor::from_shape(shape, v),
        Values::I16(v) => Tensor::from_shape(shape, v),
        Values::I32(v) => Tensor::from_shape(shape, v),
        Values::I64(v) => Tensor::from_shape(shape, v),
    }
}

/// Elements of an input tensor of `shape`, refused before it is allocated when it would not fit.
pub(super) fn input_elements(shape: &[usize], path: &str) -> Result<usize, ModelError> {
    let count = shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d));
    let need = count.and_then(|c| (c as u64).checked_mul(8));
    crate::memory::check(|| format!("an input of shape {shape:?}"), need)
        .map_err(|e| ModelError::Unsupported { path: path.into(), message: e.to_string() })?;
    Ok(count.unwrap_or(0))
}

/// The rows of the constant table a `Gather` indexes with this input, if any: seeded token ids
/// stay within the vocabulary.
fn vocabulary(graph: &pb::GraphProto, input: &str) -> Option<usize> {
    graph
        .node
        .iter()
        .filter(|n| n.op_type == "Gather" && n.input.get(1).is_some_and(|i| i == input))
        .filter_map(|n| graph.initializer.iter().find(|t| Some(&t.name) == n.input.first()))
        .filter_map(|t| t.dims.first().map(|&d| d.max(0) as usize))
        .min()
}

/// Every graph input's tensor, in the graph's order, from what the user gave; the proto's
/// declared inputs are rewritten to those concrete types and shapes.
pub(super) fn tensors(
    graph: &mut pb::GraphProto,
    inputs: &Inputs,
    path: &str,
) -> Result<Vec<(String, Tensor)>, ModelError> {
    let declared = declared_inputs(graph);
    let unsupported = |message: String| ModelError::Unsupported { path: path.into(), message };
    let list =
        || declared.iter().map(|d| format!("{:?} {}", d.name, d.shown())).collect::<Vec<_>>().join(", ");
    if declared.is_empty()
        && (!inputs.files.is_empty()
            || !inputs.arrays.is_empty()
            || inputs.image.is_some()
            || !inputs.shapes.is_empty())
    {
        return Err(unsupported("the model has no inputs; give none".into()));
    }
    // Which source feeds which input.
    let mut given: Vec<(Option<usize>, Source, &str)> = Vec::new();
    for text in &inputs.files {
        let (i, file) = split_named("--input", text, &declared, true).map_err(unsupported)?;
        given.push((i, Source::File(file), text));
    }
    let labels: Vec<String> = inputs
        .arrays
        .iter()
        .map(|a| format!("array ({} {:?})", a.array.values.dtype(), a.array.shape))
        .collect();
    for (NamedArray { name, array }, label) in inputs.arrays.iter().zip(&labels) {
        let i = match name {
            Some(name) => Some(declared.iter().position(|d| &d.name == name).ok_or_else(|| {
                let names = declared.iter().map(|d| format!("{:?}", d.name)).collect::<Vec<_>>();
                unsupported(format!(
                    "input {name:?}: the model has no such input; its inputs: {}",
                    names.join(", ")
                ))
            })?),
            None => (declared.len() == 1).then_some(0),
        };
        given.push((i, Source::Array(label, array), label));
    }
    for text in &inputs.shapes {
        let (i, shape) = split_named("--input-shape", text, &declared, false).map_err(unsupported)?;
        let dims = parse_shape(shape).ok_or_else(|| {
            unsupported(format!(
                "--input-shape {text}: accepted [NAME=]D1xD2x... with positive sizes, e.g. 1x3x224x224"
            ))
        })?;
        given.push((i, Source::Shape(shape, dims), text));
    }
    if let Some(image) = &inputs.image {
        let (i, file) = split_named("--image", &image.path, &declared, true).map_err(unsupported)?;
        // With several inputs, the image goes to the only float input of rank 4.
        let images: Vec<usize> = (0..declared.len())
            .filter(|&i| {
                declared[i].dims.as_ref().is_some_and(|d| d.len() == 4)
                    && matches!(declared[i].elem, 1 | 10 | 11)
            })
            .collect();
        let i = i.or((images.len() == 1).then(|| images[0]));
        given.push((i, Source::Image(image, file), &image.path));
    }
    let mut sources: Vec<Source> = declared.iter().map(|_| Source::Seeded).collect();
    for (i, source, text) in given {
        let flag = source.flag();
        let Some(i) = i else {
            return Err(unsupported(format!(
                "{flag} {text}: the model has {} inputs ({}); name one, e.g. {flag} {}={text}",
                declared.len(),
                list(),
                declared[0].name
            )));
        };
        if !matches!(sources[i], Source::Seeded) {
            return Err(unsupported(format!(
                "{flag} {text}: input {:?} is already given by {}",
                declared[i].name,
                sources[i].flag()
            )));
        }
        sources[i] = source;
    }

    // Shapes the user gave bind the symbols first; files are read once.
    let mut bound = Bindings::new();
    let mut read: Vec<Option<Array>> = declared.iter().map(|_| None).collect();
    for (i, source) in sources.iter().enumerate() {
        let (shape, given) = match source {
            Source::File(file) => {
                let array = npy::read_tensor(Path::new(file))
                    .map_err(|e| ModelError::Input { path: file.to_string(), message: e.to_string() })?;
                let shape = array.shape.clone();
                read[i] = Some(array);
                (shape, format!("--input {file}"))
            }
            Source::Array(label, array) => {
                read[i] = Some((*array).clone());
                (array.shape.clone(), format!("input {label}"))
            }
            Source::Shape(text, dims) => (dims.clone(), format!("--input-shape {text}")),
            Source::Image(image, file) => match (image.size, &declared[i].dims) {
                (Some((h, w)), Some(d)) if d.len() == 4 => {
                    (vec![1, 3, h, w], format!("--image {file} --size {h}x{w}"))
                }
                (_, Some(d)) if d.len() != 4 => {
                    return Err(ModelError::Image {
                        path: file.to_string(),
                        message: format!(
                            "the model's input {:?} is declared {}; an image is a 1 x 3 x H x W tensor",
                            declared[i].name,
                            declared[i].shown()
                        ),
                    });
                }
                _ => continue,
            },
            Source::Seeded => continue,
        };
        bind(&declared[i], &shape, &mut bound, &given).map_err(unsupported)?;
    }

    let mut tensors = Vec::with_capacity(declared.len());
    for (i, (decl, source)) in declared.iter().zip(&sources).enumerate() {
        let symbolic = |missing: Vec<String>, hint: &str| {
            unsupported(format!(
                "input {:?} is declared {}: {} not fixed by the model or another input; {hint}",
                decl.name,
                decl.shown(),
                missing.join(", ")
            ))
        };
        let want = datum(decl.elem);
        let tensor = match source {
            Source::File(file) | Source::Array(file, ..) => {
                let Array { shape, values } = read[i].take().expect("read above");
                let bad = |message: String| ModelError::Input { path: file.to_string(), message };
                let wanted_integer = want.is_some_and(|dt| dt.is_integer() || dt == DatumType::Bool);
                if want.is_some() && values.is_integer() != wanted_integer {
                    return Err(bad(format!(
                        "dtype {}; the model's input {:?} takes {}: save the array as {}",
                        values.dtype(),
                        decl.name,
                        want.map_or("?".into(), |d| format!("{d:?}").to_lowercase()),
                        if wanted_integer {
                            "integers (e.g. numpy.int64)"
                        } else {
                            "floats (e.g. numpy.float32)"
                        }
                    )));
                }
                let tensor = from_values(&shape, &values).map_err(|e| bad(e.to_string()))?;
                match want {
                    Some(dt) => tensor.cast_to_dt(dt).map_err(|e| bad(e.to_string()))?.into_owned(),
                    None => tensor,
                }
            }
            Source::Image(image, file) => {
                let bad = |message: String| ModelError::Image { path: file.to_string(), message };
                let (h, w) = match image.size {
                    Some(hw) => hw,
                    // The model's height and width: fixed, or bound by another input.
                    None => {
                        let dims = decl.dims.as_deref().and_then(|d| d.get(2..)).unwrap_or(&[]);
                        let mut hw = Vec::new();
                        let mut missing = Vec::new();
                        for d in dims {
                            match d {
                                Dim::Fixed(v) => hw.push(*v),
                                Dim::Symbol(s) => match bound.get(s) {
                                    Some((v, _)) if s != "?" => hw.push(*v),
                                    _ => missing.push(s.clone()),
                                },
                            }
                        }
                        let [h, w] = hw[..] else {
                            let what = if missing.is_empty() {
                                "no height and width".into()
                            } else {
                                format!("{} symbolic", missing.join(", "))
                            };
                            return Err(bad(format!(
                                "the model's input {:?} is declared {}: {what}; give --size HxW",
                                decl.name,
                                decl.shown(),
                            )));
                        };
                        bind(decl, &[1, 3, h, w], &mut bound, &format!("--image {file}"))
                            .map_err(unsupported)?;
                        (h, w)
                    }
                };
                let tensor = load_image(Path::new(file), h, w, image, path).map_err(|e| match e {
                    Err(message) => bad(message),
                    Ok(e) => e,
                })?;
                match want {
                    Some(dt) if dt.is_float() => {
                        tensor.cast_to_dt(dt).map_err(|e| bad(e.to_string()))?.into_owned()
                    }
                    Some(dt) => {
                        return Err(bad(format!(
                            "the model's input {:?} takes {dt:?}; an image is float",
                            decl.name
                        )));
                    }
                    None => tensor,
                }
            }
            Source::Shape(_, dims) => seeded(graph, decl, dims, want, inputs.seed, path)?,
            Source::Seeded => {
                if decl.dims.is_none() {
                    return Err(unsupported(format!(
                        "input {:?} has no shape in the model; give --input {0}=x.npy or --input-shape {0}=D1xD2...",
                        decl.name
                    )));
                }
                let shape = resolve(decl, &mut bound).map_err(|missing| {
                    symbolic(
                        missing,
                        &format!("give --input {0}=x.npy or --input-shape {0}=D1xD2...", decl.name),
                    )
                })?;
                seeded(graph, decl, &shape, want, inputs.seed, path)?
            }
        };
        tensors.push((decl.name.clone(), tensor));
    }
    rewrite_inputs(graph, &tensors);
    Ok(tensors)
}

/// Seeded values of `shape`: floats in [-1, 1); integers in [0, the vocabulary) for token ids
/// that index an embedding, else 1 (masks); booleans true.
fn seeded(
    graph: &pb::GraphProto,
    decl: &Declared,
    shape: &[usize],
    want: Option<DatumType>,
    seed: u64,
    path: &str,
) -> Result<Tensor, ModelError> {
    use rand::{RngExt, SeedableRng};
    let count = input_elements(shape, path)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dt = want.unwrap_or(DatumType::F32);
    let made = if dt.is_float() {
        let data: Vec<f32> = (0..count).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        Tensor::from_shape(shape, &data)
    } else if dt == DatumType::Bool {
        Tensor::from_shape(shape, &vec![true; count])
    } else {
        let data: Vec<i64> = match vocabulary(graph, &decl.name) {
            Some(rows) if rows > 0 => (0..count).map(|_| rng.random_range(0..rows as i64)).collect(),
            _ => vec![1; count],
        };
        Tensor::from_shape(shape, &data)
    };
    made.and_then(|t| Ok(t.cast_to_dt(dt)?.into_owned()))
        .map_err(|e| ModelError::Unsupported { path: path.into(), message: e.to_string() })
}

/// The image at `file`, resized to h x w and normalised. `Err(Err(message))` is about the
/// image; `Err(Ok(e))` is any other refusal.
fn load_image(
    file: &Path,
    h: usize,
    w: usize,
    image: &Image,
    path: &str,
) -> Result<Tensor, Result<ModelError, String>> {
    input_elements(&[3, h, w], path).map_err(Ok)?;
    let rgb = image::open(file).map_err(|e| Err(format!("{e}; accepted: PNG or JPEG")))?.to_rgb8();
    let resized = image::imageops::resize(&rgb, w as u32, h as u32, image::imageops::FilterType::Triangle);
    let mut data = vec![0f32; 3 * h * w];
    for (x, y, pixel) in resized.enumerate_pixels() {
        for c in 0..3 {
            data[(c * h + y as usize) * w + x as usize] =
                (f32::from(pixel[c]) / 255.0 - image.mean[c]) / image.std[c];
        }
    }
    Tensor::from_shape(&[1, 3, h, w], &data).map_err(|e| Err(e.to_string()))
}

/// The graph's declared inputs become the given tensors' types and shapes, so tract types the
/// graph on numbers, not symbols.
fn rewrite_inputs(graph: &mut pb::GraphProto, tensors: &[(String, Tensor)]) {
    use pb::tensor_shape_proto::{Dimension, dimension::Value as D};
    use pb::type_proto::{Tensor as T, Value};
    for input in &mut graph.input {
        let Some((_, t)) = tensors.iter().find(|(n, _)| *n == input.name) else { continue };
        let dim = t
            .shape()
            .iter()
            .map(|&d| Dimension { value: Some(D::DimValue(d as i64)), ..Default::default() })
            .collect();
        let tensor = T { elem_type: onnx_elem(t.datum_type()), shape: Some(pb::TensorShapeProto { dim }) };
        input.r#type = Some(pb::TypeProto { value: Some(Value::TensorType(tensor)), ..Default::default() });
    }
}
