//! NumPy `.npy` files: 2-D int8 or float32 in (weights exported from PyTorch), tensors of any
//! rank and the dtypes models take (model inputs), int8 and int32 out.
//! Outputs are written through [`crate::output`]: a failed or interrupted write leaves nothing behind.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use npyz::{NpyFile, Order, WriterBuilder};
use thiserror::Error;

use crate::matrix::Matrix;

/// A 2-D array read from a `.npy` file, in one of the accepted dtypes.
#[derive(Debug)]
pub enum NpyMatrix {
    I8(Matrix<i8>),
    F32(Matrix<f32>),
}

#[derive(Debug, Error)]
pub enum NpyError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Write(crate::output::OutputError),
    #[error("{path}: array has shape {shape:?}; accepted: a 2-D array (rows x K)")]
    Shape { path: PathBuf, shape: Vec<u64> },
    #[error("{path}: {rows} x {cols} array; accepted: at least one row and one column")]
    Empty { path: PathBuf, rows: usize, cols: usize },
    #[error(
        "{path}: the header's shape {shape} needs {need} of data, the file holds {have} bytes; accepted: a complete .npy file (np.save) of at most {MAX_ELEMENTS} elements"
    )]
    Truncated { path: PathBuf, shape: String, need: String, have: u64 },
    #[error(transparent)]
    Memory(crate::memory::TooLarge),
    #[error("{path}: not a .npy file ({reason}); accepted: a file written by numpy.save")]
    NotNpy { path: PathBuf, reason: &'static str },
    #[error("{path}: dtype {dtype}; accepted dtypes: int8 ('<i1'/'|i1') and float32 ('<f4')")]
    DType { path: PathBuf, dtype: String },
    #[error("{path}: dtype {dtype}; accepted dtypes: {accepted}")]
    TensorDType { path: PathBuf, dtype: String, accepted: &'static str },
    #[error("{path}: Fortran order; accepted: a C-order array (numpy.ascontiguousarray before numpy.save)")]
    Order { path: PathBuf },
}

/// Opens a `.npy` file whose header has been checked against its length.
fn open(path: &Path) -> Result<NpyFile<BufReader<File>>, NpyError> {
    let read_err = |source| NpyError::Read { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(read_err)?;
    check_header(path, &mut file)?;
    NpyFile::new(BufReader::new(file)).map_err(read_err)
}

/// Reads a 2-D int8 or float32 array (C or Fortran order) as a row-major matrix.
pub fn read_matrix(path: &Path) -> Result<NpyMatrix, NpyError> {
    let read_err = |source| NpyError::Read { path: path.to_path_buf(), source };
    let npy = open(path)?;
    let shape = npy.shape().to_vec();
    let [rows, cols] = shape[..] else {
        return Err(NpyError::Shape { path: path.to_path_buf(), shape });
    };
    let (rows, cols) = (rows as usize, cols as usize);
    if rows == 0 || cols == 0 {
        return Err(NpyError::Empty { path: path.to_path_buf(), rows, cols });
    }
    let fortran = npy.order() == Order::Fortran;
    let dtype = npy.dtype().descr();
    // A Fortran-order file lists the transpose row by row.
    let (r, c) = if fortran { (cols, rows) } else { (rows, cols) };
    match npy.try_data::<i8>() {
        Ok(data) => {
            let v: Vec<i8> = data.collect::<Result<_, _>>().map_err(read_err)?;
            Ok(NpyMatrix::I8(transpose_if(fortran, Matrix::from_vec(r, c, v))))
        }
        Err(npy) => match npy.try_data::<f32>() {
            Ok(data) => {
                let v: Vec<f32> = data.collect::<Result<_, _>>().map_err(read_err)?;
                Ok(NpyMatrix::F32(transpose_if(fortran, Matrix::from_vec(r, c, v))))
            }
            Err(_) => Err(NpyError::DType { path: path.to_path_buf(), dtype }),
        },
    }
}

/// The values of a tensor read from a `.npy` file, in its own dtype.
#[derive(Clone, Debug)]
pub enum Values {
    F16(Vec<half::f16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl Values {
    /// Whether the dtype is an integer one (token ids, masks).
    pub fn is_integer(&self) -> bool {
        !matches!(self, Values::F16(_) | Values::F32(_) | Values::F64(_))
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        match self {
            Values::F16(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::I8(v) => v.len(),
            Values::U8(v) => v.len(),
            Values::I16(v) => v.len(),
            Values::I32(v) => v.len(),
            Values::I64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The NumPy name of the dtype.
    pub fn dtype(&self) -> &'static str {
        match self {
            Values::F16(_) => "float16",
            Values::F32(_) => "float32",
            Values::F64(_) => "float64",
            Values::I8(_) => "int8",
            Values::U8(_) => "uint8",
            Values::I16(_) => "int16",
            Values::I32(_) => "int32",
            Values::I64(_) => "int64",
        }
    }
}

/// An array of any rank in memory (a model's input, a NumPy array): its shape and its values in
/// C order.
#[derive(Clone, Debug)]
pub struct Array {
    pub shape: Vec<usize>,
    pub values: Values,
}

/// The dtypes [`read_tensor`] accepts, as the error lists them.
const TENSOR_DTYPES: &str = "float16, float32, float64, int8, uint8, int16, int32, int64 (little-endian)";

/// Reads an array of any rank (a model's input tensor), C order.
pub fn read_tensor(path: &Path) -> Result<Array, NpyError> {
    let read_err = |source| NpyError::Read { path: path.to_path_buf(), source };
    let npy = open(path)?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    if npy.order() == Order::Fortran {
        return Err(NpyError::Order { path: path.to_path_buf() });
    }
    let dtype = npy.dtype().descr();
    macro_rules! read_as {
        ($npy:expr, $($t:ty => $variant:ident),+) => {{
            let npy = $npy;
            $(
                let npy = match npy.try_data::<$t>() {
                    Ok(data) => {
                        let values = Values::$variant(data.collect::<Result<_, _>>().map_err(read_err)?);
                        return Ok(Array { shape, values });
                    }
                    Err(npy) => npy,
                };
            )+
            drop(npy);
        }};
    }
    read_as!(npy, f32 => F32, half::f16 => F16, f64 => F64, i8 => I8, u8 => U8, i16 => I16, i32 => I32, i64 => I64);
    Err(NpyError::TensorDType { path: path.to_path_buf(), dtype, accepted: TENSOR_DTYPES })
}

/// Writes a matrix as a C-order 2-D `.npy` array of its element type, atomically.
pub fn write_matrix<T>(path: &Path, matrix: &Matrix<T>) -> Result<(), NpyError>
where
    T: npyz::AutoSerialize + Copy,
{
    crate::output::write_file(path, |w| {
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&[matrix.rows as u64, matrix.cols as u64])
            .writer(w)
            .begin_nd()?;
        writer.extend(matrix.data.iter().copied())?;
        writer.finish()
    })
    .map_err(NpyError::Write)
}

/// Largest array read, in elements (4 GiB of int8).
pub const MAX_ELEMENTS: u64 = 1 << 32;

/// Reads the header's shape before the NumPy reader sees it, so that a shape whose product
/// overflows, or that the file's length cannot hold, is refused before anything is allocated.
fn check_header(path: &Path, file: &mut File) -> Result<(), NpyError> {
    let not_npy = |reason| NpyError::NotNpy { path: path.to_path_buf(), reason };
    let read_err = |source| NpyError::Read { path: path.to_path_buf(), source };
    let have = file.metadata().map_err(read_err)?.len();
    let mut head = vec![0u8; 12];
    let got = file.read(&mut head).map_err(read_err)?;
    if got < 10 || &head[..6] != b"\x93NUMPY" {
        return Err(not_npy("no \\x93NUMPY magic"));
    }
    let (len, start) = match head[6] {
        1 => (u64::from(u16::from_le_bytes([head[8], head[9]])), 10),
        2 | 3 if got == 12 => (u64::from(u32::from_le_bytes([head[8], head[9], head[10], head[11]])), 12),
        _ => return Err(not_npy("unknown format version")),
    };
    if start + len > have || len > 1 << 20 {
        return Err(not_npy("header longer than the file"));
    }
    let mut text = vec![0u8; len as usize];
    file.seek(SeekFrom::Start(start)).map_err(read_err)?;
    file.read_exact(&mut text).map_err(read_err)?;
    file.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let text = String::from_utf8_lossy(&text);
    let shape_at = text.find("'shape'").ok_or(not_npy("no shape in the header"))?;
    let tuple = text[shape_at..].split_once('(').and_then(|(_, t)| t.split_once(')')).map(|(t, _)| t);
    let tuple = tuple.ok_or(not_npy("the shape is not a tuple"))?;
    let mut elements = Some(1u64);
    for dim in tuple.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let dim: u64 =
            dim.trim_end_matches('L').parse().map_err(|_| not_npy("a dimension is not a number"))?;
        elements = elements.and_then(|e| e.checked_mul(dim));
    }
    // The item size is the descr's trailing number ('<f2': 2 bytes); the dtype itself is checked
    // after the header. A descr without one is taken at 8 bytes, the widest accepted.
    let item = item_size(&text).unwrap_or(8);
    let need = elements.filter(|&e| e <= MAX_ELEMENTS).and_then(|e| e.checked_mul(item));
    match need {
        Some(need) if need <= have - start - len => {
            // The data, and a transposed copy for Fortran order.
            let what = || format!("reading {} ({need} bytes of data)", path.display());
            crate::memory::check(what, need.checked_mul(2)).map_err(NpyError::Memory)
        }
        _ => Err(NpyError::Truncated {
            path: path.to_path_buf(),
            shape: format!("({})", tuple.trim()),
            need: need.map_or("more than 2^32 elements".into(), |n| format!("{n} bytes")),
            have: have - start - len,
        }),
    }
}

/// The item size in bytes the header's `'descr'` names, e.g. 4 for `'<f4'`.
fn item_size(header: &str) -> Option<u64> {
    let after = &header[header.find("'descr'")? + "'descr'".len()..];
    let value = after.split('\'').nth(1)?;
    let digits: String = value.chars().skip_while(|c| !c.is_ascii_digit()).collect();
    digits.parse().ok().filter(|&n| n > 0)
}

fn transpose_if<T: Copy + Default>(fortran: bool, m: Matrix<T>) -> Matrix<T> {
    if fortran { m.transpose() } else { m }
}
