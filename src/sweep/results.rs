//! What a sweep produces: its rows, where they came from (so that only shards of one sweep
//! merge), the CSV, and the output folder with the summary and figures 13 and 14.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::brief::{Brief, Briefs};
use super::spill::Spill;
use super::{Shard, SweepError, SweepFile, safe_name};
use crate::compare::{Outcome, Point};
use crate::design::Design;
use crate::energy::Ert;

/// What makes results comparable: shards merge only when all of this is equal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    /// `highlight-emu` and its version.
    pub tool: String,
    /// The sweep file as parsed (its canonical form; the seed is in it).
    pub sweep_file: SweepFile,
    /// The energy table, every action.
    pub ert: Ert,
    /// The architecture of every design.
    pub archs: Vec<crate::design::Arch>,
    /// What every design's mapping and formats were chosen to minimise (absent before the
    /// search had objectives: EDP was not searched then, so such shards merge only alike).
    #[serde(default)]
    pub objective: Option<crate::search::Objective>,
    /// The rows as written: their count and digest, checked on merge so that a shard whose rows
    /// were removed, repeated or edited is refused (not compared between shards).
    #[serde(default)]
    pub rows: Option<RowsDigest>,
}

/// How many rows a results file holds, and the FNV-1a 64 digest of their JSON.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RowsDigest {
    pub count: usize,
    pub fnv1a64: String,
}

impl RowsDigest {
    pub fn of(rows: &[Row]) -> RowsDigest {
        let mut hash = Fnv::new();
        for row in rows {
            // A row serialises (floats round-trip, maps keep their order) to the same bytes
            // after a load as when it was written.
            hash.row(&serde_json::to_vec(row).unwrap_or_default());
        }
        hash.digest(rows.len())
    }
}

/// FNV-1a 64 over each row's JSON and a newline, fed one row at a time.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub fn row(&mut self, json: &[u8]) {
        for b in json.iter().chain(b"\n") {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn digest(&self, count: usize) -> RowsDigest {
        RowsDigest { count, fnv1a64: format!("{:016x}", self.0) }
    }
}

impl Provenance {
    pub fn new(file: &SweepFile, ert: &Ert, objective: crate::search::Objective) -> Provenance {
        Provenance {
            tool: format!("highlight-emu {}", env!("CARGO_PKG_VERSION")),
            sweep_file: file.clone(),
            ert: ert.clone(),
            archs: Design::ALL.iter().map(|d| d.arch()).collect(),
            objective: Some(objective),
            rows: None,
        }
    }

    /// The first part in which two provenances differ.
    fn difference(&self, other: &Provenance) -> Option<&'static str> {
        if self.tool != other.tool {
            Some("tool version")
        } else if self.sweep_file != other.sweep_file {
            Some("sweep file (points, seed or name)")
        } else if self.ert != other.ert {
            Some("energy table")
        } else if self.archs != other.archs {
            Some("architectures")
        } else if self.objective != other.objective {
            Some("objective")
        } else {
            None
        }
    }
}

/// One point's outcome for one design.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub point_index: usize,
    pub point: Point,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What `results.json` holds: a full run, or one shard of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub sweep: String,
    pub description: String,
    pub ert: String,
    pub backend: String,
    pub checked: bool,
    /// Points in the whole sweep.
    pub points: usize,
    /// `None` for a full run.
    pub shard: Option<Shard>,
    /// What the results were computed from; `None` in files of older versions, which do not
    /// merge.
    #[serde(default)]
    pub provenance: Option<Provenance>,
    /// Every row in full; empty where `spill` holds them (a sweep streams its rows to disk).
    pub rows: Vec<Row>,
    /// The full rows of a sweep, on disk, when they were streamed there.
    #[serde(skip)]
    pub spill: Option<Spill>,
    /// What the summary and figures read of each row ([`Brief`]): kept as a streamed sweep
    /// runs, else made from `rows` once, on first use (so `rows` is complete before that).
    #[serde(skip)]
    pub briefs: std::sync::OnceLock<Vec<Brief>>,
    /// Of streamed rows, the full ones whose Z or cross-check failed, which the verdict names.
    #[serde(skip)]
    pub failed: Vec<Row>,
}

impl Results {
    /// Records the rows' digest in the provenance: the results are complete.
    pub fn sealed(mut self) -> Results {
        let digest = self.spill.as_ref().map_or_else(|| RowsDigest::of(&self.rows), Spill::digest);
        if let Some(p) = &mut self.provenance {
            p.rows = Some(digest);
        }
        self
    }

    /// What the summary and figures read of every row.
    pub fn briefs(&self) -> &[Brief] {
        self.briefs.get_or_init(|| Briefs::of(&self.rows))
    }

    /// How many rows the results hold.
    pub fn row_count(&self) -> usize {
        self.spill.as_ref().map_or(self.rows.len(), Spill::count)
    }

    /// The rows the verdict reads: those that failed, where the rows were streamed.
    pub fn verdict_rows(&self) -> &[Row] {
        if self.spill.is_some() { &self.failed } else { &self.rows }
    }

    /// Every row in full, as JSON lines: from the spill, or serialised from memory.
    pub fn row_lines(&self) -> std::io::Result<Box<dyn Iterator<Item = std::io::Result<String>> + '_>> {
        Ok(match &self.spill {
            Some(spill) => Box::new(spill.lines()?),
            None => {
                Box::new(self.rows.iter().map(|r| serde_json::to_string(r).map_err(std::io::Error::from)))
            }
        })
    }

    /// Reads a `results.json`.
    pub fn load(path: &Path) -> Result<Results, SweepError> {
        let bad = |message: String| SweepError::BadPartial { path: path.display().to_string(), message };
        // A results file of a large sweep may be far over a configuration file's bound: the
        // memory guard bounds it instead (the text and the parsed rows, about four times it).
        let size = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?.len();
        crate::memory::check(|| format!("reading {}", path.display()), size.checked_mul(4))
            .map_err(|e| bad(e.to_string()))?;
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| bad(e.to_string()))
    }

    /// Joins the shards of one sweep into the results of one full run. Shards must come from one
    /// sweep (same provenance), each once, none empty, together covering every point.
    pub fn merge(parts: Vec<Results>) -> Result<Results, SweepError> {
        let merge_err = |m: String| SweepError::Merge(m);
        let first = parts.first().ok_or_else(|| merge_err("nothing to merge".into()))?.clone();
        let Some(provenance) = &first.provenance else {
            return Err(merge_err(format!(
                "{}: no provenance (written by an older highlight-emu); rerun its shards",
                first.sweep
            )));
        };
        let count = first.shard.map_or(1, |s| s.count);
        if count == 0 || count > first.points {
            return Err(merge_err(format!("shard count {count}: the sweep has {} points", first.points)));
        }
        let mut seen = vec![false; count];
        // The points every shard's rows are checked against, and the designs every point ran.
        let expected = provenance.sweep_file.points();
        if expected.len() != first.points {
            return Err(merge_err(format!(
                "{} says {} points; its sweep file has {}",
                first.sweep,
                first.points,
                expected.len()
            )));
        }
        let mut designs: Option<Vec<Design>> = None;
        for p in &parts {
            if !safe_name(&p.sweep) {
                return Err(merge_err(format!("sweep name {:?} is not a safe folder name", p.sweep)));
            }
            let differs = match &p.provenance {
                None => Some("provenance (one was written by an older highlight-emu)"),
                Some(other) => provenance.difference(other),
            };
            if p.sweep != first.sweep || p.points != first.points || differs.is_some() {
                return Err(merge_err(format!(
                    "partials of different sweeps: {} ({} points) and {} ({} points) differ in {}",
                    first.sweep,
                    first.points,
                    p.sweep,
                    p.points,
                    differs.unwrap_or("name or points")
                )));
            }
            let shard = p.shard.ok_or_else(|| merge_err(format!("{} is already a full run", p.sweep)))?;
            if shard.count != count || shard.index >= count {
                return Err(merge_err(format!(
                    "shard {}/{} is not one of {count} shards",
                    shard.index, shard.count
                )));
            }
            if std::mem::replace(&mut seen[shard.index], true) {
                return Err(merge_err(format!("shard {}/{count} given twice", shard.index)));
            }
            check_rows(p, shard, &expected, &mut designs)
                .map_err(|m| merge_err(format!("shard {}/{count}: {m}; rerun that shard", shard.index)))?;
        }
        if let Some(missing) = seen.iter().position(|s| !s) {
            return Err(merge_err(format!("shard {missing}/{count} is missing")));
        }
        let mut rows: Vec<Row> = parts.iter().flat_map(|p| p.rows.iter().cloned()).collect();
        rows.sort_by_key(|r| (r.point_index, Design::ALL.iter().position(|&d| d == r.outcome.design)));
        let checked = parts.iter().all(|p| p.checked);
        Ok(Results { shard: None, checked, rows, briefs: Default::default(), ..first }.sealed())
    }
}

/// A shard's rows against what its index owns: its digest, each owned point once with the
/// sweep's own point, every point with the same designs (`designs`: those of the first point
/// seen), each once. The error names the first row that differs.
fn check_rows(
    p: &Results,
    shard: Shard,
    expected: &[Point],
    designs: &mut Option<Vec<Design>>,
) -> Result<(), String> {
    match p.provenance.as_ref().and_then(|v| v.rows.as_ref()) {
        None => return Err("no digest of its rows (written by an older highlight-emu)".into()),
        Some(d) if *d != RowsDigest::of(&p.rows) => {
            return Err(format!(
                "its {} rows are not the {} it wrote (digest {}): rows were removed, repeated or edited",
                p.rows.len(),
                d.count,
                d.fnv1a64
            ));
        }
        Some(_) => {}
    }
    let mut by_point: std::collections::BTreeMap<usize, Vec<&Row>> = std::collections::BTreeMap::new();
    for r in &p.rows {
        if r.point_index >= expected.len() || !shard.takes(r.point_index) {
            return Err(format!("it holds point {}, which is not its own", r.point_index));
        }
        by_point.entry(r.point_index).or_default().push(r);
    }
    for index in (0..expected.len()).filter(|&i| shard.takes(i)) {
        let want = &expected[index];
        let Some(rows) = by_point.get(&index) else {
            return Err(format!("point {index} ({}) has no rows", want.label()));
        };
        let mut ran: Vec<Design> = Vec::with_capacity(rows.len());
        for r in rows {
            // All of it: the seed, and a layer's count, which weights the whole network.
            if r.point != *want {
                let json = |p: &Point| serde_json::to_string(p).unwrap_or_default();
                return Err(format!(
                    "the {} row of point {index} is {}; the sweep's point {index} is {}",
                    r.outcome.design.id(),
                    json(&r.point),
                    json(want)
                ));
            }
            if ran.contains(&r.outcome.design) {
                return Err(format!(
                    "point {index} ({}) has two {} rows",
                    want.label(),
                    r.outcome.design.id()
                ));
            }
            ran.push(r.outcome.design);
        }
        ran.sort_by_key(|d| Design::ALL.iter().position(|x| x == d));
        match designs {
            None => *designs = Some(ran),
            Some(all) if *all != ran => {
                let ids = |v: &[Design]| v.iter().map(|d| d.id()).collect::<Vec<_>>().join(", ");
                return Err(format!(
                    "point {index} ({}) ran {}; the other points ran {}",
                    want.label(),
                    ids(&ran),
                    ids(all)
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}
