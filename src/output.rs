//! Everything the tool writes goes through here, so that nothing is lost, clobbered or left
//! half-written (README, "What the tool guarantees about its outputs"):
//!
//! - a file is written under a unique temporary name created exclusively beside it (never
//!   following a planted symlink), then renamed over the target, which must be a regular file or
//!   absent: two writers to one path leave one complete file;
//! - an output folder is filled aside, then swapped in atomically; an existing folder is replaced
//!   only when it holds nothing but this tool's outputs, as listed by the marker file it writes;
//! - on SIGINT, SIGTERM or SIGHUP the temporaries of writes in progress are removed before exit.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The file in every output folder that says this tool wrote it and lists what it wrote.
pub const MARKER: &str = ".highlight-emu-output";

/// Exit status after an interrupt (128 + SIGINT, as shells report it).
pub const INTERRUPTED: i32 = 130;

#[derive(Debug, Error)]
pub enum OutputError {
    #[error("{path}: {reason}")]
    Refused { path: String, reason: String },
    #[error("cannot write {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path}: {message}")]
    Fill { path: String, message: String },
}

fn refused(path: &Path, reason: impl Into<String>) -> OutputError {
    OutputError::Refused { path: path.display().to_string(), reason: reason.into() }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |source| OutputError::Io { path: path.display().to_string(), source }
}

/// Temporaries of the writes in progress; the interrupt handler removes them. Holding the lock
/// also keeps the handler out of a rename in progress.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Outputs this run has put in place, complete: an interrupt after that says so.
static PLACED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn placed() -> MutexGuard<'static, Vec<PathBuf>> {
    PLACED.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn forget(path: &Path) {
    live().retain(|p| p != path);
}

fn remove_any(path: &Path) {
    let _ = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => Ok(()),
    };
}

/// Also removes `path` if the process is interrupted (a temporary that is not an output, such as
/// a private runtime folder).
pub fn remove_on_interrupt(path: &Path) {
    live().push(path.to_path_buf());
}

/// Installs the handler that removes live temporaries on SIGINT, SIGTERM and SIGHUP, then exits
/// with [`INTERRUPTED`].
pub fn clean_up_on_interrupt() {
    let installed = ctrlc::set_handler(|| {
        let temporaries = live();
        for path in temporaries.iter() {
            remove_any(path);
        }
        let done = placed();
        let message = if done.is_empty() {
            "interrupted; partial outputs removed".to_string()
        } else {
            let paths: Vec<String> = done.iter().map(|p| p.display().to_string()).collect();
            format!(
                "interrupted after the output was written: the new output is complete at {}",
                paths.join(", ")
            )
        };
        let _ = writeln!(io::stderr(), "{message}");
        std::process::exit(INTERRUPTED);
    });
    if let Err(e) = installed {
        log::warn!("no interrupt handler ({e}); an interrupted write may leave a *.partial file");
    }
}

/// The interrupt tests pause here, just after an output was put in place
/// (`HIGHLIGHT_EMU_TEST_PAUSE_AFTER_MS`), so that a signal lands after the swap.
fn pause_for_tests_after() {
    if let Some(ms) = std::env::var("HIGHLIGHT_EMU_TEST_PAUSE_AFTER_MS").ok().and_then(|v| v.parse().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// The interrupt tests hold a write open here (`HIGHLIGHT_EMU_TEST_PAUSE_MS`), with its
/// temporary on disk, so that a signal lands mid-write.
fn pause_for_tests() {
    if let Some(ms) = std::env::var("HIGHLIGHT_EMU_TEST_PAUSE_MS").ok().and_then(|v| v.parse().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// The process's file-mode creation mask, read without changing it (Linux reports it in
/// /proc/self/status); 022 where it cannot be read.
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string())))
        .and_then(|v| u32::from_str_radix(&v, 8).ok())
        .unwrap_or(0o022)
}

/// The folder a path lies in (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A prefix for temporaries beside `path`: its name, cut so that the temporary's name stays
/// within the file system's 255-byte limit.
fn temp_prefix(path: &Path) -> String {
    let name = path.file_name().unwrap_or(OsStr::new("out")).to_string_lossy();
    let mut end = name.len().min(150);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(".{}.", &name[..end])
}

/// What is at a path that is about to be written.
fn describe_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Refuses an output file path whose target is anything but a regular file or absent, or whose
/// folder does not exist. Call it before long work, so that a bad path fails first.
pub fn check_file_target(path: &Path) -> Result<(), OutputError> {
    if path.file_name().is_none() || ends_in_dots(path) {
        return Err(refused(path, "not a file name; name the output file, e.g. out.npy"));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => {}
        Ok(m) => {
            return Err(refused(
                path,
                format!(
                    "is {}; outputs replace only regular files: name a new or regular file",
                    describe_kind(&m)
                ),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(path)(e)),
    }
    let parent = parent_of(path);
    if !parent.is_dir() {
        return Err(refused(path, format!("folder {} does not exist", parent.display())));
    }
    Ok(())
}

/// Writes a file atomically: `write` fills a temporary created exclusively beside `path`, which
/// is then renamed over it. A failed or interrupted write leaves `path` as it was.
pub fn write_file(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
) -> Result<(), OutputError> {
    check_file_target(path)?;
    let tmp = {
        let mut temporaries = live();
        let tmp = tempfile::Builder::new()
            .prefix(&temp_prefix(path))
            .suffix(".partial")
            .tempfile_in(parent_of(path))
            .map_err(io_error(path))?;
        temporaries.push(tmp.path().to_path_buf());
        tmp
    };
    let tmp_path = tmp.path().to_path_buf();
    let written = (|| {
        let mut w = BufWriter::new(tmp.as_file());
        write(&mut w)?;
        w.flush()?;
        drop(w);
        tmp.as_file().sync_all()
    })();
    if let Err(e) = written {
        forget(&tmp_path);
        return Err(io_error(path)(e));
    }
    // Temporaries are created private (0600); the output gets the permissions a plain create
    // would give it.
    use std::os::unix::fs::PermissionsExt;
    // Replacing a file keeps its mode, as writing it in place would.
    let mode = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m.permissions(),
        _ => std::fs::Permissions::from_mode(0o666 & !umask()),
    };
    if let Err(e) = tmp.as_file().set_permissions(mode) {
        forget(&tmp_path);
        return Err(io_error(path)(e));
    }
    pause_for_tests();
    let _temporaries = live();
    if let Err(e) = check_file_target(path) {
        drop(_temporaries);
        forget(&tmp_path);
        return Err(e);
    }
    let persisted = tmp.persist(path).map_err(|e| io_error(path)(e.error));
    if persisted.is_ok() {
        placed().push(path.to_path_buf());
    }
    drop(_temporaries);
    forget(&tmp_path);
    persisted.map(|_| pause_for_tests_after())
}

/// Writes bytes to a file atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    write_file(path, |w| w.write_all(bytes))
}

/// What the marker file of an output folder says.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    written_by: String,
    /// The process that filled the folder: a leftover temporary folder whose process is gone is
    /// removed by the next run.
    pid: u32,
    /// Every entry the tool wrote into the folder.
    files: Vec<String>,
}

impl Marker {
    fn read(dir: &Path) -> Option<Marker> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(MARKER)).ok()?).ok()
    }

    fn write(dir: &Path, files: Vec<String>) -> io::Result<()> {
        let marker = Marker {
            written_by: format!("highlight-emu {}", env!("CARGO_PKG_VERSION")),
            pid: std::process::id(),
            files,
        };
        std::fs::write(dir.join(MARKER), serde_json::to_string_pretty(&marker)? + "\n")
    }
}

/// `.`, `..` or `DIR/.` as typed: a folder named by a path that does not end in its own name.
fn ends_in_dots(path: &Path) -> bool {
    let text = path.as_os_str().as_encoded_bytes();
    let trimmed = text.strip_suffix(b"/").unwrap_or(text);
    let last = trimmed.rsplit(|&b| b == b'/').next().unwrap_or(trimmed);
    last == b"." || last == b".."
}

/// Whether an output folder is absent, or there and holding only this tool's outputs.
#[derive(Debug, PartialEq, Eq)]
enum Existing {
    Absent,
    Ours,
}

/// Checks that `dir` may receive an output folder: it is named by its own name, it is not the
/// current folder or one above it, and it is absent, empty, or holds only what this tool wrote.
pub fn check_output_dir(dir: &Path) -> Result<(), OutputError> {
    existing(dir).map(|_| ())
}

fn existing(dir: &Path) -> Result<Existing, OutputError> {
    if dir.as_os_str().is_empty() || ends_in_dots(dir) {
        return Err(refused(dir, "name the output folder itself, not '.', '..' or a path ending in them"));
    }
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(e) => return Err(io_error(dir)(e)),
    };
    if !meta.is_dir() {
        return Err(refused(
            dir,
            format!("is {}, not an output folder; name a new folder", describe_kind(&meta)),
        ));
    }
    let canonical = dir.canonicalize().map_err(io_error(dir))?;
    if std::env::current_dir().is_ok_and(|cwd| cwd.starts_with(&canonical)) {
        return Err(refused(dir, "is the current folder or one above it; name a new folder for the outputs"));
    }
    let entries: Vec<String> = std::fs::read_dir(dir)
        .map_err(io_error(dir))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(io_error(dir))?;
    if entries.is_empty() {
        return Ok(Existing::Ours);
    }
    let Some(marker) = Marker::read(dir) else {
        return Err(refused(
            dir,
            format!(
                "holds files this tool did not write (no {MARKER}); name a new folder or one an earlier run wrote"
            ),
        ));
    };
    match entries.iter().find(|e| e.as_str() != MARKER && !marker.files.contains(e)) {
        Some(foreign) => Err(refused(
            dir,
            format!("holds {foreign:?}, which this tool did not write; move it away or name a new folder"),
        )),
        None => Ok(Existing::Ours),
    }
}

/// Whether a process is still running (on systems without /proc, assume it is).
fn alive(pid: u32) -> bool {
    !Path::new("/proc/self").exists() || Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes temporary folders beside `dir` that earlier interrupted runs left, when their marker
/// says this tool wrote them and their process is gone; reports any other.
fn clean_leftovers(dir: &Path) {
    let prefix = temp_prefix(dir);
    let Ok(entries) = std::fs::read_dir(parent_of(dir)) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !(name.starts_with(&prefix) && name.ends_with(".partial") && path.is_dir()) {
            continue;
        }
        match Marker::read(&path) {
            Some(m) if !alive(m.pid) => {
                if std::fs::remove_dir_all(&path).is_ok() {
                    let _ = writeln!(
                        io::stderr(),
                        "note: removed {}, left by an interrupted run",
                        path.display()
                    );
                }
            }
            Some(_) => {}
            None => {
                let note = format!(
                    "note: {} looks like a partial output; this tool did not remove it",
                    path.display()
                );
                let _ = writeln!(io::stderr(), "{note}");
            }
        }
    }
}

/// Renames `from` to `to`: swapping the two atomically when `to` exists (`from` then holds the
/// old folder), failing when `exchange` is false and `to` exists.
fn rename_into_place(from: &Path, to: &Path, exchange: bool) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
        let (f, t) = (c(from)?, c(to)?);
        let flags = if exchange { libc::RENAME_EXCHANGE } else { libc::RENAME_NOREPLACE };
        // SAFETY: both paths are NUL-terminated and outlive the call; AT_FDCWD resolves them as
        // the rest of the process does.
        let rc = unsafe { libc::renameat2(libc::AT_FDCWD, f.as_ptr(), libc::AT_FDCWD, t.as_ptr(), flags) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        // File systems without renameat2 flags take the two-step path below.
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(e);
        }
    }
    if exchange {
        let aside = from.with_extension("old");
        std::fs::rename(to, &aside)?;
        if let Err(e) = std::fs::rename(from, to) {
            // Put the old folder back: the path keeps the old complete folder.
            let _ = std::fs::rename(&aside, to);
            return Err(e);
        }
        std::fs::rename(&aside, from)
    } else if std::fs::symlink_metadata(to).is_ok() {
        Err(io::Error::from(io::ErrorKind::AlreadyExists))
    } else {
        std::fs::rename(from, to)
    }
}

/// How an output folder may treat what is already at its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    /// Replace an earlier output folder of this tool (sweeps, merges).
    Earlier,
    /// The folder must not exist (`run --save`).
    Never,
}

/// Writes an output folder: `fill` writes into a fresh temporary folder beside `dir`, which then
/// takes `dir`'s place in one atomic rename; the folder it replaced is then deleted. An
/// interrupted run leaves the old complete folder or the new complete one.
pub fn write_dir(
    dir: &Path,
    replace: Replace,
    fill: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), OutputError> {
    let check = || match existing(dir)? {
        Existing::Ours if replace == Replace::Never => Err(refused(dir, "already exists; name a new folder")),
        e => Ok(e),
    };
    check()?;
    let parent = parent_of(dir);
    std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    clean_leftovers(dir);
    let tmp = {
        let mut temporaries = live();
        let tmp = tempfile::Builder::new()
            .prefix(&temp_prefix(dir))
            .suffix(".partial")
            .tempdir_in(parent)
            .map_err(io_error(dir))?
            .keep();
        temporaries.push(tmp.clone());
        tmp
    };
    let filled = (|| {
        Marker::write(&tmp, Vec::new()).map_err(io_error(dir))?;
        fill(&tmp).map_err(|message| OutputError::Fill { path: dir.display().to_string(), message })?;
        let mut files: Vec<String> = std::fs::read_dir(&tmp)
            .and_then(|entries| {
                entries.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned())).collect()
            })
            .map_err(io_error(dir))?;
        files.retain(|f| f != MARKER);
        files.sort();
        Marker::write(&tmp, files).map_err(io_error(dir))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o777 & !umask()))
            .map_err(io_error(dir))
    })();
    if let Err(e) = filled {
        remove_any(&tmp);
        forget(&tmp);
        return Err(e);
    }
    pause_for_tests();
    let _temporaries = live();
    let placed = check().and_then(|e| {
        rename_into_place(&tmp, dir, e == Existing::Ours && dir.exists()).map_err(io_error(dir))
    });
    if placed.is_ok() {
        self::placed().push(dir.to_path_buf());
    }
    // After a swap the temporary path holds the replaced folder; either way it goes.
    remove_any(&tmp);
    drop(_temporaries);
    forget(&tmp);
    placed.map(|()| pause_for_tests_after())
}
