//! Sweeps: `sweep` and `merge`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use highlight_emu::design::Design;
use highlight_emu::search::Search;
use highlight_emu::sweep::{Results, SweepFile};

use super::emit;
use super::emulate::run_verdict;
use crate::SweepArgs;

pub fn sweep(args: &SweepArgs) -> Result<()> {
    let file = SweepFile::load(&args.file)?;
    if let Some(a) = &args.accuracy {
        highlight_emu::accuracy::check_file(a)?;
    }
    let ert = args.energy.load()?;
    let points = file.points().len();
    if let Some(shard) = args.shard
        && shard.count > points
    {
        bail!(
            "--shard {}/{}: the sweep has {points} points, so at most {points} shards",
            shard.index,
            shard.count
        );
    }
    let out = args.out.clone().unwrap_or_else(|| match args.shard {
        Some(_) => highlight_emu::sweep::default_out(&format!("{}-shards", file.name), args.shard),
        None => highlight_emu::sweep::default_out(&file.name, None),
    });
    highlight_emu::output::check_output_dir(&out)?;
    let gpu = args.backend.open()?;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(
            (highlight_emu::sweep::points_in(&file, args.shard) * Design::ALL.len()) as u64,
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs, {elapsed} elapsed, ETA {eta}  {msg}",
        )
        .expect("the progress template is valid"),
    );
    let results = highlight_emu::sweep::run(
        &file,
        args.shard,
        &ert,
        &Search { objective: args.objective, ..Search::default() },
        gpu.as_ref(),
        args.backend.check,
        |point, design| {
            bar.set_message(format!("{}: {}", point.label(), design.id()));
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    finish(&results, &out, args.accuracy.as_deref(), &|_| Ok(()))
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
    finish(&results, &out, None, &|_| Ok(()))
}

/// Writes a sweep's outputs (with what `extra` adds), prints the claims summary of a full run
/// and, with `--accuracy`, figure 15's points, and fails on a mismatch.
pub fn finish(
    results: &Results,
    out: &Path,
    accuracy: Option<&Path>,
    extra: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<()> {
    let fig15 = accuracy.map(|a| highlight_emu::accuracy::points(a, results)).transpose()?;
    let fig15_md = fig15.as_deref().map_or(String::new(), highlight_emu::accuracy::summary_md);
    highlight_emu::sweep::write_outputs(results, out, &|tmp| {
        extra(tmp)?;
        if let Some(points) = &fig15 {
            let summary = tmp.join("summary.md");
            let text = std::fs::read_to_string(&summary).unwrap_or_default() + &fig15_md;
            std::fs::write(&summary, text).map_err(|e| format!("summary.md: {e}"))?;
            highlight_emu::accuracy::figure(points, results)
                .write(&tmp.join("fig15_edp_accuracy"))
                .map_err(|e| format!("fig15_edp_accuracy: {e}"))?;
        }
        Ok(())
    })?;
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
    let verdict = results
        .verdict_rows()
        .iter()
        .filter_map(|row| {
            let context = format!("{} at {}: ", row.outcome.design.id(), row.point.label());
            row.outcome.result.as_ref().map(|r| run_verdict(r, &context))
        })
        .collect::<Result<Vec<()>>>();
    emit(&text, verdict.map(|_| ()))
}
