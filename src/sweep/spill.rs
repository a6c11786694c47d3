//! A sweep's rows on disk as they are produced (issue 20): each full row goes to an unnamed
//! temporary file (removed by the system however the process ends) as one JSON line, and only
//! its [`super::Brief`] stays in memory. The outputs are then written by streaming the file.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use super::results::{Fnv, Row, RowsDigest};

/// The rows written so far, their count and digest.
#[derive(Clone)]
pub struct Spill {
    file: Arc<Mutex<BufWriter<File>>>,
    count: usize,
    digest: Fnv,
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spill {{ count: {} }}", self.count)
    }
}

impl Spill {
    pub fn new() -> std::io::Result<Spill> {
        Ok(Spill {
            file: Arc::new(Mutex::new(BufWriter::new(tempfile::tempfile()?))),
            count: 0,
            digest: Fnv::new(),
        })
    }

    /// Writes `row` as one line.
    pub fn push(&mut self, row: &Row) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(row)?;
        self.digest.row(&bytes);
        self.count += 1;
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(&bytes)?;
        file.write_all(b"\n")
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn digest(&self) -> RowsDigest {
        self.digest.digest(self.count)
    }

    /// Every row's JSON line, in the order written. The reader shares the file's offset with the
    /// writer: read once the rows are all written, one reading at a time.
    pub fn lines(&self) -> std::io::Result<impl Iterator<Item = std::io::Result<String>>> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.flush()?;
        let mut reader = file.get_ref().try_clone()?;
        reader.seek(SeekFrom::Start(0))?;
        Ok(BufReader::new(reader).lines().take(self.count))
    }
}
