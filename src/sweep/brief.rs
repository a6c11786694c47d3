//! What the summary, the figures and figure 15 read of a row, and no more (issue 20): about 200
//! bytes a row, the point shared by its designs and repeated strings (patterns) shared, so that
//! a sweep whose full rows stream to disk holds only these while it runs.

use std::collections::HashMap;
use std::sync::Arc;

use super::results::Row;
use crate::compare::{Normalised, Point};
use crate::design::Design;
use crate::format::Format;
use crate::search::Objective;

/// One row, briefly.
#[derive(Clone, Debug)]
pub struct Brief {
    pub point_index: usize,
    pub point: Arc<Point>,
    pub outcome: BriefOutcome,
}

#[derive(Clone, Debug)]
pub struct BriefOutcome {
    pub design: Design,
    pub unsupported: Option<Arc<str>>,
    pub normalised_to_tc: Option<Normalised>,
    pub result: Option<BriefResult>,
}

/// The figures of a run the summary reads.
#[derive(Clone, Debug)]
pub struct BriefResult {
    pub cycles: u64,
    pub energy_pj: f64,
    pub latency_s: f64,
    pub edp: f64,
    pub a_runs_as: Arc<str>,
    /// The A and B patterns the design ran.
    pub workload: BriefWorkload,
    pub objective: Option<Objective>,
    pub a_format: Option<Format>,
    pub b_format: Option<Format>,
}

#[derive(Clone, Debug)]
pub struct BriefWorkload {
    pub a: Arc<str>,
    pub b: Arc<str>,
}

/// Briefs as rows arrive, sharing each point and each distinct string.
#[derive(Default)]
pub struct Briefs {
    strings: HashMap<String, Arc<str>>,
    point: Option<(usize, Arc<Point>)>,
    pub list: Vec<Brief>,
}

impl Briefs {
    fn text(&mut self, s: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(s) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(s);
        self.strings.insert(s.to_string(), shared.clone());
        shared
    }

    pub fn push(&mut self, row: &Row) {
        let point = match &self.point {
            Some((i, p)) if *i == row.point_index && **p == row.point => p.clone(),
            _ => {
                let p = Arc::new(row.point.clone());
                self.point = Some((row.point_index, p.clone()));
                p
            }
        };
        let result = row.outcome.result.as_ref().map(|r| BriefResult {
            cycles: r.cycles,
            energy_pj: r.energy_pj,
            latency_s: r.latency_s,
            edp: r.edp,
            a_runs_as: self.text(&r.a_runs_as),
            workload: BriefWorkload { a: self.text(&r.workload.a), b: self.text(&r.workload.b) },
            objective: r.search.as_ref().map(|s| s.objective),
            a_format: r.a_format,
            b_format: r.b_format,
        });
        let unsupported = row.outcome.unsupported.as_deref().map(|u| self.text(u));
        self.list.push(Brief {
            point_index: row.point_index,
            point,
            outcome: BriefOutcome {
                design: row.outcome.design,
                unsupported,
                normalised_to_tc: row.outcome.normalised_to_tc.clone(),
                result,
            },
        });
    }

    pub fn of(rows: &[Row]) -> Vec<Brief> {
        let mut briefs = Briefs::default();
        for r in rows {
            briefs.push(r);
        }
        briefs.list
    }
}
