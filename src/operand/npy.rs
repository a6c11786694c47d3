//! NumPy `.npy` files: 2-D int8 or float32 in (weights exported from PyTorch), int8 and int32 out.
//! Outputs are written to a temporary file and renamed, so a failed write leaves nothing behind.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
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
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}: array has shape {shape:?}; accepted: a 2-D array (rows x K)")]
    Shape { path: PathBuf, shape: Vec<u64> },
    #[error("{path}: dtype {dtype}; accepted dtypes: int8 ('<i1'/'|i1') and float32 ('<f4')")]
    DType { path: PathBuf, dtype: String },
}

/// Reads a 2-D int8 or float32 array (C or Fortran order) as a row-major matrix.
pub fn read_matrix(path: &Path) -> Result<NpyMatrix, NpyError> {
    let read_err = |source| NpyError::Read { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(read_err)?;
    let npy = NpyFile::new(BufReader::new(file)).map_err(read_err)?;
    let shape = npy.shape().to_vec();
    let [rows, cols] = shape[..] else {
        return Err(NpyError::Shape { path: path.to_path_buf(), shape });
    };
    let (rows, cols) = (rows as usize, cols as usize);
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

/// Writes a matrix as a C-order 2-D `.npy` array of its element type, atomically.
pub fn write_matrix<T>(path: &Path, matrix: &Matrix<T>) -> Result<(), NpyError>
where
    T: npyz::AutoSerialize + Copy,
{
    write_atomically(path, |w| {
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&[matrix.rows as u64, matrix.cols as u64])
            .writer(w)
            .begin_nd()?;
        writer.extend(matrix.data.iter().copied())?;
        writer.finish()
    })
}

/// Runs `write` into a temporary file beside `path`, then renames it over `path`.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), NpyError> {
    let write_err = |source| NpyError::Write { path: path.to_path_buf(), source };
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.partial"));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        write(&mut w)?;
        w.flush()?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(write_err)
}

fn transpose_if<T: Copy + Default>(fortran: bool, m: Matrix<T>) -> Matrix<T> {
    if fortran { m.transpose() } else { m }
}
