//! Sweeps: `sweep` and `merge`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use highlight_emu::api::{self, SweepRequest};
use highlight_emu::sweep::Results;

use super::emit;
use crate::SweepArgs;

pub fn sweep(args: &SweepArgs) -> Result<()> {
    let request = SweepRequest {
        file: args.file.clone(),
        out: Some(args.out.clone()),
        accuracy: args.accuracy.clone(),
        shard: args.shard,
        objective: args.objective,
        backend: args.backend.backend(),
        energy: args.energy.energy(),
    };
    let study = api::sweep(&request)?;
    report(&study.results, study.out.as_deref().expect("the CLI always writes"), &study.fig15_md)
}

pub fn merge(dirs: &[PathBuf], out: Option<&Path>) -> Result<()> {
    let parts = dirs.iter().map(|d| Results::load(&d.join("results.json"))).collect::<Result<Vec<_>, _>>()?;
    let results = Results::merge(parts)?;
    let out = out.map_or_else(|| highlight_emu::sweep::default_out(&results.sweep, None), Path::to_path_buf);
    highlight_emu::output::check_output_dir(&out)?;
    // The output replaces its folder: it may not be, or hold, one of the shards it reads.
    if let Ok(out_canonical) = out.canonicalize() {
        for dir in dirs {
            if dir.canonicalize().is_ok_and(|d| d.starts_with(&out_canonical)) {
                bail!(
                    "--out {} is or holds the shard {}: merging would replace its input; name another folder",
                    out.display(),
                    dir.display()
                );
            }
        }
    }
    api::write_outputs(&results, &out, None, &|_| Ok(()))?;
    report(&results, &out, "")
}

/// Prints what a sweep wrote (for a full run the claims summary and figure 15's part), then fails
/// on a mismatch.
pub fn report(results: &Results, out: &Path, fig15_md: &str) -> Result<()> {
    let text = match results.shard {
        Some(s) => {
            format!("shard {}/{}: {} rows in {}\n", s.index, s.count, results.row_count(), out.display())
        }
        None => {
            let mut files: Vec<String> = std::fs::read_dir(out)?
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .filter(|f| f != highlight_emu::output::MARKER)
                .collect();
            files.sort();
            format!(
                "{}{fig15_md}\nwrote {}: {}\n",
                highlight_emu::claims::summary_md(results),
                out.display(),
                files.join(", ")
            )
        }
    };
    emit(&text, api::verdict_of(results))
}
