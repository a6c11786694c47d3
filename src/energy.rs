//! Energy, latency and EDP from action counts (docs/DESIGN.md 8): energy = sum of count x energy
//! per action from an energy reference table (ERT, `assets/ert/*.toml` or `--ert FILE`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::counters::Counters;
use crate::design::Arch;
use crate::hierarchy::Hierarchy;

/// One action's energy.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErtAction {
    pub pj: f64,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

/// An energy reference table.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ert {
    pub name: String,
    pub actions: BTreeMap<String, ErtAction>,
}

#[derive(Debug, Error)]
pub enum EnergyError {
    #[error("cannot read energy table {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("energy table {path}: {message}")]
    Bad { path: String, message: String },
    #[error("cannot read --ert-map file {path}: {source}")]
    ReadMap { path: String, source: std::io::Error },
    #[error("--ert-map file {path}: {message}")]
    BadMap { path: String, message: String },
    #[error(
        "--ert-map applies to Accelergy ERTs (.yaml, .yml); {0} is the emulator's TOML table, whose actions are already ours: drop --ert-map"
    )]
    MapWithoutAccelergy(String),
    #[error(
        "energy table {ert:?}: {counter} x {pj} pJ is not a finite energy; use per-action energies of realistic size"
    )]
    NotFinite { ert: String, counter: String, pj: f64 },
    #[error("energy table {ert:?} has no action {action:?}, which counter {counter} needs; it has: {have}")]
    MissingAction { ert: String, action: String, counter: String, have: String },
}

/// The text of an energy table or mapping file.
fn read(path: &Path) -> Result<String, EnergyError> {
    crate::text::read_nested(path)
        .map_err(|source| EnergyError::Read { path: path.display().to_string(), source })
}

/// How a counter's units turn into an ERT action's units.
#[derive(Clone, Copy)]
enum Per {
    /// One action per count.
    Count,
    /// The action is per byte, the counter counts bits.
    Bit,
    /// A select of the design's rank1 mux costs H_max inputs.
    Rank1Mux,
    /// A select of the design's rank0 mux costs H_max inputs.
    Rank0Mux,
    /// A select of a 2:1 mux costs two inputs.
    TwoToOne,
}

/// The ERT action each counter is charged to (`cycles` costs no energy by itself). The
/// emulators' own GLB counts (`glb_read_*`, `glb_write_z`: the traffic of their fixed loop nest)
/// are not charged: the hierarchy's, from the mapping, are.
const CHARGES: &[Charge] = &[
    ("pe_reg_write", "pe_reg", Per::Count),
    ("pe_reg_read", "pe_reg", Per::Count),
    ("vfmu_write", "vfmu", Per::Count),
    ("vfmu_read", "vfmu", Per::Count),
    ("rank1_mux", "mux_input", Per::Rank1Mux),
    ("rank0_mux", "mux_input", Per::Rank0Mux),
    ("skip_select_mux", "mux_input", Per::TwoToOne),
    ("mac", "mac", Per::Count),
    ("mac_gated", "mac_gated", Per::Count),
    ("adder", "adder", Per::Count),
    ("rf_read", "rf_read", Per::Count),
    ("rf_write", "rf_write", Per::Count),
];

/// The ERT action each count of the memory hierarchy is charged to.
const HIERARCHY_CHARGES: &[Charge] = &[
    ("dram_read_a", "dram_read", Per::Count),
    ("dram_read_a_meta_bits", "dram_meta_read", Per::Bit),
    ("dram_read_b", "dram_read", Per::Count),
    ("dram_read_b_meta_bits", "dram_meta_read", Per::Bit),
    ("dram_read_z", "dram_read", Per::Count),
    ("dram_write_z", "dram_write", Per::Count),
    ("glb_fill_a", "glb_write", Per::Count),
    ("glb_fill_a_meta_bits", "glb_meta_write", Per::Bit),
    ("glb_fill_b", "glb_write", Per::Count),
    ("glb_fill_b_meta_bits", "glb_meta_write", Per::Bit),
    ("glb_read_a", "glb_read", Per::Count),
    ("glb_read_a_meta_bits", "glb_meta_read", Per::Bit),
    ("glb_read_b", "glb_read", Per::Count),
    ("glb_read_b_meta_bits", "glb_meta_read", Per::Bit),
    ("glb_write_z", "glb_write", Per::Count),
    ("glb_read_z", "glb_read", Per::Count),
    ("pe_meta_read_bits", "pe_meta_read", Per::Bit),
];

impl Ert {
    /// The shipped default, public 45 nm data (`assets/ert/default-45nm.toml`).
    pub fn default_45nm() -> Ert {
        Ert::parse(include_str!("../assets/ert/default-45nm.toml"), "assets/ert/default-45nm.toml")
            .expect("the shipped energy table is valid")
    }

    /// Reads an ERT file.
    pub fn load(path: &Path) -> Result<Ert, EnergyError> {
        let text = read(path)?;
        Ert::parse(&text, &path.display().to_string())
    }

    /// Parses ERT TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Ert, EnergyError> {
        let bad = |message: String| EnergyError::Bad { path: origin.to_string(), message };
        let ert: Ert = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        if let Some((name, _)) = ert.actions.iter().find(|(_, a)| !(a.pj.is_finite() && a.pj >= 0.0)) {
            return Err(bad(format!("action {name:?} needs a finite, non-negative pj")));
        }
        Ok(ert)
    }
}

/// Energy, latency and EDP of one run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Evaluation {
    pub energy_pj: f64,
    /// Energy per counter, in counter order; sums to `energy_pj`.
    pub breakdown_pj: Vec<(&'static str, f64)>,
    pub latency_s: f64,
    /// Energy x latency, in J x s.
    pub edp: f64,
}

/// Charges every counter and every count of the hierarchy to its ERT action and times `cycles`
/// (the arrays', or a memory level's where it takes longer) at the design's clock.
pub fn evaluate(
    counters: &Counters,
    hierarchy: &Hierarchy,
    cycles: u64,
    arch: &Arch,
    ert: &Ert,
) -> Result<Evaluation, EnergyError> {
    let mut breakdown = Vec::with_capacity(CHARGES.len() + HIERARCHY_CHARGES.len());
    let hierarchy_charges = charged(hierarchy.iter(), HIERARCHY_CHARGES).count();
    for (&(counter, action, per), count) in
        charged(hierarchy.iter(), HIERARCHY_CHARGES).chain(charged(counters.iter(), CHARGES))
    {
        breakdown.push((counter, charge(counter, count, action, per.scale(arch), ert)?));
    }
    // The hierarchy's part, then the counters': the sums the search adds, bit for bit.
    let (hierarchy_part, counters_part) = breakdown.split_at(hierarchy_charges);
    let sum = |part: &[(&str, f64)]| part.iter().map(|(_, e)| e).sum::<f64>();
    let energy_pj = sum(hierarchy_part) + sum(counters_part);
    if !energy_pj.is_finite() {
        return Err(EnergyError::NotFinite {
            ert: ert.name.clone(),
            counter: "the total".into(),
            pj: energy_pj,
        });
    }
    let latency_s = cycles as f64 / arch.clock_hz;
    Ok(Evaluation { energy_pj, breakdown_pj: breakdown, latency_s, edp: energy_pj * 1e-12 * latency_s })
}

/// The energy of the counters alone and of the hierarchy's counts alone, summed in
/// [`evaluate`]'s order: their sum is its `energy_pj` exactly.
pub fn counters_energy(counters: &Counters, arch: &Arch, ert: &Ert) -> Result<f64, EnergyError> {
    charged(counters.iter(), CHARGES)
        .map(|(&(c, action, per), n)| charge(c, n, action, per.scale(arch), ert))
        .sum()
}

/// See [`counters_energy`].
pub fn hierarchy_energy(hierarchy: &Hierarchy, arch: &Arch, ert: &Ert) -> Result<f64, EnergyError> {
    charged(hierarchy.iter(), HIERARCHY_CHARGES)
        .map(|(&(c, action, per), n)| charge(c, n, action, per.scale(arch), ert))
        .sum()
}

type Charge = (&'static str, &'static str, Per);

/// The counts a table charges, each with its charge.
fn charged(
    counts: impl Iterator<Item = (&'static str, u64)>,
    table: &'static [Charge],
) -> impl Iterator<Item = (&'static Charge, u64)> {
    counts.filter_map(move |(c, n)| table.iter().find(|(name, _, _)| *name == c).map(|ch| (ch, n)))
}

impl Per {
    /// Actions of the ERT per count.
    fn scale(self, arch: &Arch) -> f64 {
        match self {
            Per::Count => 1.0,
            Per::Bit => 1.0 / 8.0,
            Per::Rank1Mux => arch.rank1.map_or(0.0, |r| f64::from(r.h_max)),
            Per::Rank0Mux => arch.rank0.map_or(0.0, |r| f64::from(r.h_max)),
            Per::TwoToOne => 2.0,
        }
    }
}

/// `count` actions of `counter`, `scale` ERT actions each, in pJ: what a caller outside the
/// counter tables charges (an HSS rank's muxes, `mux_input` x H_max per select).
pub fn charge(counter: &str, count: u64, action: &str, scale: f64, ert: &Ert) -> Result<f64, EnergyError> {
    if count == 0 {
        return Ok(0.0);
    }
    let pj = ert.actions.get(action).map(|a| a.pj).ok_or_else(|| EnergyError::MissingAction {
        ert: ert.name.clone(),
        action: action.to_string(),
        counter: counter.to_string(),
        have: ert.actions.keys().cloned().collect::<Vec<_>>().join(", "),
    })?;
    let energy = count as f64 * pj * scale;
    if !energy.is_finite() {
        return Err(EnergyError::NotFinite { ert: ert.name.clone(), counter: counter.to_string(), pj });
    }
    Ok(energy)
}

/// How an Accelergy ERT's components and actions become ours (`assets/ert/accelergy-map.toml`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccelergyMap {
    pub actions: BTreeMap<String, MapEntry>,
}

/// One of our actions, from an Accelergy component's action times `scale`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapEntry {
    pub component: String,
    pub action: String,
    #[serde(default = "unit_scale")]
    pub scale: f64,
}

fn unit_scale() -> f64 {
    1.0
}

impl AccelergyMap {
    /// The shipped mapping.
    pub fn shipped() -> AccelergyMap {
        toml::from_str(include_str!("../assets/ert/accelergy-map.toml"))
            .expect("the shipped mapping is valid")
    }

    pub fn load(path: &Path) -> Result<AccelergyMap, EnergyError> {
        let text = crate::text::read_nested(path)
            .map_err(|source| EnergyError::ReadMap { path: path.display().to_string(), source })?;
        let bad = |message: String| EnergyError::BadMap { path: path.display().to_string(), message };
        let map: AccelergyMap = toml::from_str(&text).map_err(|e| bad(e.message().to_string()))?;
        if let Some((ours, e)) = map.actions.iter().find(|(_, e)| !(e.scale.is_finite() && e.scale >= 0.0)) {
            return Err(bad(format!(
                "action {ours:?}: scale = {} must be a finite, non-negative number",
                e.scale
            )));
        }
        Ok(map)
    }
}

/// `system.SM.Subpartition[0..3].PE[0..255].MAC` -> `MAC`: index ranges are dropped first, since
/// they hold dots themselves (`MAC[0..255]`).
fn short_component(name: &str) -> String {
    let mut plain = String::with_capacity(name.len());
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    plain.rsplit('.').next().unwrap_or(&plain).to_string()
}

impl Ert {
    /// Reads an ERT: Accelergy YAML (`.yaml`, `.yml`) through `map` over the default table, or
    /// the emulator's own TOML.
    pub fn load_any(path: &Path, map: Option<&Path>) -> Result<Ert, EnergyError> {
        let yaml =
            path.extension().is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if !yaml {
            return match map {
                Some(_) => Err(EnergyError::MapWithoutAccelergy(path.display().to_string())),
                None => Ert::load(path),
            };
        }
        let text = read(path)?;
        let map = match map {
            Some(m) => AccelergyMap::load(m)?,
            None => AccelergyMap::shipped(),
        };
        Ert::from_accelergy(&text, &path.display().to_string(), &map, &Ert::default_45nm())
    }

    /// Imports an Accelergy ERT (`ERT.tables` or `ERT_summary.table_summary`): each mapped action
    /// takes the Accelergy energy times its scale; the others keep `base`'s.
    pub fn from_accelergy(
        yaml: &str,
        origin: &str,
        map: &AccelergyMap,
        base: &Ert,
    ) -> Result<Ert, EnergyError> {
        let bad = |message: String| EnergyError::Bad { path: origin.to_string(), message };
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).map_err(|e| bad(e.to_string()))?;
        let tables = doc
            .get("ERT")
            .and_then(|e| e.get("tables"))
            .or_else(|| doc.get("ERT_summary").and_then(|e| e.get("table_summary")))
            .and_then(|t| t.as_sequence())
            .ok_or_else(|| {
                bad("no ERT.tables or ERT_summary.table_summary list; is this an Accelergy ERT?".into())
            })?;
        let mut energies: BTreeMap<(String, String), f64> = BTreeMap::new();
        for table in tables {
            let Some(name) = table.get("name").and_then(|n| n.as_str()) else { continue };
            for action in table.get("actions").and_then(|a| a.as_sequence()).into_iter().flatten() {
                let (Some(a), Some(e)) = (
                    action.get("name").and_then(|n| n.as_str()),
                    action.get("energy").and_then(|e| e.as_f64()),
                ) else {
                    continue;
                };
                if !(e.is_finite() && e >= 0.0) {
                    return Err(bad(format!("{name}.{a}: energy {e} must be a finite, non-negative number")));
                }
                energies.entry((short_component(name), a.to_string())).or_insert(e);
            }
        }
        let mut ert = base.clone();
        ert.name = format!(
            "{} (Accelergy)",
            Path::new(origin).file_stem().map_or(origin.into(), |s| s.to_string_lossy())
        );
        for (ours, entry) in &map.actions {
            let key = (entry.component.clone(), entry.action.clone());
            let energy = energies.get(&key).ok_or_else(|| {
                let have: Vec<String> = energies.keys().map(|(c, a)| format!("{c}.{a}")).collect();
                bad(format!(
                    "no {}.{} for action {ours:?}; the table has: {}",
                    entry.component,
                    entry.action,
                    have.join(", ")
                ))
            })?;
            let pj = energy * entry.scale;
            if !pj.is_finite() {
                return Err(bad(format!(
                    "action {ours:?}: {}.{} = {energy} x scale {} is not a finite energy",
                    entry.component, entry.action, entry.scale
                )));
            }
            ert.actions.insert(
                ours.clone(),
                ErtAction {
                    pj,
                    unit: ert.actions.get(ours).and_then(|a| a.unit.clone()),
                    source: Some(format!("{origin}: {}.{} x {}", entry.component, entry.action, entry.scale)),
                },
            );
        }
        Ok(ert)
    }
}
