//! Mappings (docs/DESIGN.md 11): how a workload's M, N and K loops are tiled over the memory
//! hierarchy DRAM -> GLB -> RF -> PE registers, in Timeloop's mapping form (the `map.yaml` its
//! mapper writes), so that a user can pass Sparseloop's mapping in and take ours out.
//!
//! A mapping lists, per level, temporal loops (with their order) and spatial loops, and which
//! data spaces (A = weights, B = activations, Z = outputs) the level keeps or bypasses. Loops
//! at a level iterate over the tiles that level holds; a level's spatial loops fan its tile out
//! to its child instances.

use std::fmt::Write as _;

use serde_yaml_ng::Value;
use thiserror::Error;

/// The levels this model has, innermost first, with the names Timeloop's mappings give them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// PE registers (Timeloop `LRF`).
    Pe = 0,
    /// The register file holding partial sums (`RF`).
    Rf = 1,
    /// The global buffer (`SMEM`, `GLB`).
    Glb = 2,
    /// Off-chip DRAM, the backing store.
    Dram = 3,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Pe, Level::Rf, Level::Glb, Level::Dram];

    /// The name a mapping file uses.
    pub fn target(self) -> &'static str {
        match self {
            Level::Pe => "LRF",
            Level::Rf => "RF",
            Level::Glb => "SMEM",
            Level::Dram => "DRAM",
        }
    }

    fn parse(name: &str) -> Option<Level> {
        match name.to_ascii_uppercase().as_str() {
            "LRF" | "PE" | "PE_REG" => Some(Level::Pe),
            "RF" => Some(Level::Rf),
            "SMEM" | "GLB" => Some(Level::Glb),
            "DRAM" | "MAINMEMORY" => Some(Level::Dram),
            _ => None,
        }
    }
}

/// A problem dimension of `Z[M, N] = A[M, K] x B[K, N]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    M,
    N,
    K,
}

impl Dim {
    pub const ALL: [Dim; 3] = [Dim::M, Dim::N, Dim::K];

    fn name(self) -> char {
        match self {
            Dim::M => 'M',
            Dim::N => 'N',
            Dim::K => 'K',
        }
    }
}

/// A data space: the operands and the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Space {
    A,
    B,
    Z,
}

impl Space {
    pub const ALL: [Space; 3] = [Space::A, Space::B, Space::Z];

    /// Whether a loop over `dim` indexes this data space (A: M, K; B: K, N; Z: M, N).
    pub fn indexed_by(self, dim: Dim) -> bool {
        !matches!((self, dim), (Space::A, Dim::N) | (Space::B, Dim::M) | (Space::Z, Dim::K))
    }

    fn name(self) -> &'static str {
        match self {
            Space::A => "A",
            Space::B => "B",
            Space::Z => "Z",
        }
    }
}

/// One loop of a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loop {
    pub dim: Dim,
    pub bound: u64,
}

/// What one level does: its temporal loops (innermost first), its spatial loops, and the data
/// spaces it keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelMap {
    pub temporal: Vec<Loop>,
    pub spatial: Vec<Loop>,
    pub keep: [bool; 3],
}

impl LevelMap {
    pub fn keeps(&self, space: Space) -> bool {
        self.keep[space as usize]
    }
}

/// A whole mapping: one [`LevelMap`] per [`Level`], innermost first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub levels: [LevelMap; 4],
}

#[derive(Debug, Error)]
pub enum MappingError {
    #[error("mapping {origin}: {message}")]
    Bad { origin: String, message: String },
    #[error("cannot read mapping {path}: {source}")]
    Read { path: String, source: std::io::Error },
}

/// Accepted form, quoted by every error.
const FORM: &str = "accepted: Timeloop's mapping YAML, `mapping:` a list of {target: DRAM|SMEM|RF|LRF, type: temporal|spatial|datatype, factors: \"M1 N64 K1\", permutation: \"NMK\", keep/bypass: [A, B, Z]}";

/// Timeloop names data spaces after the problem; the artifact's GEMM calls them A, B and Z.
fn space(name: &str) -> Option<Space> {
    match name.to_ascii_uppercase().as_str() {
        "A" | "WEIGHTS" => Some(Space::A),
        "B" | "INPUTS" => Some(Space::B),
        "Z" | "OUTPUTS" => Some(Space::Z),
        _ => None,
    }
}

fn dim(c: char) -> Option<Dim> {
    match c.to_ascii_uppercase() {
        'M' => Some(Dim::M),
        'N' => Some(Dim::N),
        'K' => Some(Dim::K),
        _ => None,
    }
}

impl Mapping {
    /// Reads a mapping file.
    pub fn load(path: &std::path::Path) -> Result<Mapping, MappingError> {
        let text = crate::text::read_nested(path)
            .map_err(|source| MappingError::Read { path: path.display().to_string(), source })?;
        Mapping::parse(&text, &path.display().to_string())
    }

    /// Parses Timeloop's mapping YAML. Levels without an entry keep nothing and loop once; a
    /// level this model lacks, a data space or dimension it does not know, and factors that do
    /// not parse are refused, naming them.
    pub fn parse(text: &str, origin: &str) -> Result<Mapping, MappingError> {
        let bad = |message: String| MappingError::Bad {
            origin: origin.to_string(),
            message: format!("{message}; {FORM}"),
        };
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| bad(e.to_string()))?;
        let entries = doc
            .get("mapping")
            .unwrap_or(&doc)
            .as_sequence()
            .ok_or_else(|| bad("no `mapping:` list".into()))?;
        let mut levels: [LevelMap; 4] =
            std::array::from_fn(|_| LevelMap { temporal: Vec::new(), spatial: Vec::new(), keep: [false; 3] });
        let mut keeps_given = [false; 4];
        for entry in entries {
            let field = |name: &str| entry.get(name).and_then(Value::as_str);
            let target = field("target").ok_or_else(|| bad("an entry without a target".into()))?;
            let level = Level::parse(target).ok_or_else(|| {
                bad(format!(
                    "level {target:?}: this model has DRAM, SMEM (the GLB), RF and LRF (PE registers) only"
                ))
            })?;
            let l = &mut levels[level as usize];
            match field("type").unwrap_or("temporal") {
                "datatype" | "bypass" => {
                    keeps_given[level as usize] = true;
                    let list = |name: &str| -> Result<Vec<Space>, MappingError> {
                        entry
                            .get(name)
                            .and_then(Value::as_sequence)
                            .into_iter()
                            .flatten()
                            .map(|v| {
                                let s = v.as_str().unwrap_or("");
                                space(s).ok_or_else(|| {
                                    bad(format!("{target}: unknown data space {s:?} (A, B, Z)"))
                                })
                            })
                            .collect()
                    };
                    for s in list("keep")? {
                        l.keep[s as usize] = true;
                    }
                    for s in list("bypass")? {
                        l.keep[s as usize] = false;
                    }
                }
                kind @ ("temporal" | "spatial") => {
                    let factors = parse_factors(field("factors").unwrap_or(""))
                        .map_err(|m| bad(format!("{target} {kind} factors: {m}")))?;
                    let order: Vec<Dim> = match field("permutation") {
                        Some(p) => p
                            .chars()
                            .filter(|c| !c.is_whitespace())
                            .map(|c| {
                                dim(c).ok_or_else(|| {
                                    bad(format!("{target}: unknown dimension {c:?} in permutation"))
                                })
                            })
                            .collect::<Result<_, _>>()?,
                        None => Dim::ALL.to_vec(),
                    };
                    if order.iter().enumerate().any(|(i, d)| order[..i].contains(d)) {
                        return Err(bad(format!("{target}: a dimension repeats in the permutation")));
                    }
                    // Timeloop lists a permutation innermost first; unlisted dimensions go outside.
                    let mut loops: Vec<Loop> = order
                        .iter()
                        .chain(Dim::ALL.iter().filter(|d| !order.contains(d)))
                        .filter_map(|&d| {
                            factors.iter().find(|(fd, _)| *fd == d).map(|&(dim, bound)| Loop { dim, bound })
                        })
                        .filter(|l| l.bound > 1)
                        .collect();
                    if kind == "temporal" {
                        l.temporal.append(&mut loops);
                    } else {
                        l.spatial.append(&mut loops);
                    }
                }
                other => return Err(bad(format!("{target}: unknown entry type {other:?}"))),
            }
        }
        // Timeloop's default for a level without a datatype entry: it keeps everything.
        for (i, given) in keeps_given.iter().enumerate() {
            if !given {
                levels[i].keep = [true; 3];
            }
        }
        let total = levels
            .iter()
            .flat_map(|l| l.temporal.iter().chain(&l.spatial))
            .try_fold(1u64, |p, l| p.checked_mul(l.bound).filter(|&p| p <= MAX_EXTENT));
        if total.is_none() {
            return Err(bad(format!("the loops together cover more than {MAX_EXTENT} iterations")));
        }
        if !levels[Level::Dram as usize].keep.iter().all(|&k| k) {
            return Err(bad("DRAM is the backing store and keeps A, B and Z".into()));
        }
        Ok(Mapping { levels })
    }

    /// The product of every loop over `dim`: the extent the mapping covers.
    pub fn extent(&self, dim: Dim) -> u64 {
        Level::ALL.iter().map(|&level| self.level_extent(level, dim)).product()
    }

    /// The product of `dim`'s loops, temporal and spatial, at one level.
    pub fn level_extent(&self, level: Level, dim: Dim) -> u64 {
        let l = &self.levels[level as usize];
        l.temporal.iter().chain(&l.spatial).filter(|l| l.dim == dim).map(|l| l.bound).product()
    }

    /// Checks that the mapping covers the workload `(m, k, n)`: every extent at least the
    /// dimension (padding beyond it is scaled away, [`crate::mapper::hierarchy`]).
    pub fn check_covers(&self, (m, k, n): (usize, usize, usize), origin: &str) -> Result<(), MappingError> {
        for (d, want) in [(Dim::M, m), (Dim::N, n), (Dim::K, k)] {
            let got = self.extent(d);
            if got < want as u64 {
                return Err(MappingError::Bad {
                    origin: origin.to_string(),
                    message: format!("its {} loops cover {got}, the workload has {want}; {FORM}", d.name()),
                });
            }
        }
        Ok(())
    }

    /// The mapping in Timeloop's YAML form, which [`Mapping::parse`] reads back.
    pub fn to_yaml(&self) -> String {
        let mut out = String::from("mapping:\n");
        let spaces = |keep: bool, l: &LevelMap| -> String {
            Space::ALL
                .iter()
                .filter(|&&s| l.keeps(s) == keep)
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for level in Level::ALL {
            let l = &self.levels[level as usize];
            let _ = writeln!(
                out,
                "- target: {}\n  type: datatype\n  keep: [{}]\n  bypass: [{}]",
                level.target(),
                spaces(true, l),
                spaces(false, l)
            );
        }
        for level in Level::ALL {
            let l = &self.levels[level as usize];
            for (kind, loops) in [("spatial", &l.spatial), ("temporal", &l.temporal)] {
                if kind == "spatial" && loops.is_empty() {
                    continue;
                }
                let bound = |d: Dim| loops.iter().filter(|x| x.dim == d).map(|x| x.bound).product::<u64>();
                let factors: Vec<String> =
                    Dim::ALL.iter().map(|&d| format!("{}{}", d.name(), bound(d))).collect();
                let mut order: Vec<char> = loops.iter().map(|x| x.dim.name()).collect();
                let rest: Vec<char> =
                    Dim::ALL.iter().map(|d| d.name()).filter(|c| !order.contains(c)).collect();
                order.extend(rest);
                let _ = writeln!(
                    out,
                    "- target: {}\n  type: {kind}\n  factors: {}\n  permutation: {}",
                    level.target(),
                    factors.join(" "),
                    order.into_iter().collect::<String>()
                );
            }
        }
        out
    }
}

/// Largest factor of one loop, and of all of a mapping's loops together: the counts are products
/// of them and must not overflow.
const MAX_FACTOR: u64 = 1 << 32;
const MAX_EXTENT: u64 = 1 << 60;

/// `M1 N64 K1` or `M=1 N=64 K=1`.
fn parse_factors(text: &str) -> Result<Vec<(Dim, u64)>, String> {
    let mut factors = Vec::new();
    for token in text.split_whitespace() {
        let mut chars = token.chars();
        let d =
            chars.next().and_then(dim).ok_or_else(|| format!("{token:?} does not start with M, N or K"))?;
        let number = chars.as_str().trim_start_matches('=');
        let bound: u64 =
            number.parse().map_err(|_| format!("{token:?}: {number:?} is not a whole number"))?;
        if bound == 0 || bound > MAX_FACTOR {
            return Err(format!("{token:?}: a factor is between 1 and {MAX_FACTOR}"));
        }
        if factors.iter().any(|(fd, _)| *fd == d) {
            return Err(format!("{token:?}: {} given twice", d.name()));
        }
        factors.push((d, bound));
    }
    Ok(factors)
}
