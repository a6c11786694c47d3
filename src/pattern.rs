//! The fibertree sparsity specification of an operand (paper section 3.2, DESIGN.md 2).
//!
//! A pattern is what a user types: `dense`, `unstructured(0.25)` or a hierarchical structured
//! sparsity (HSS) spec such as `RS->C2->C1(3:4)->C0(2:4)`. Structure is always along the reduction
//! rank K; the G:H ranks are the lowest ranks and end at rank 0.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

/// Most G:H ranks a pattern may carry (DESIGN.md 2).
pub const MAX_RULED_RANKS: usize = 4;

/// Largest block shape (the product of the ruled ranks' H): K is padded to a multiple of it, so
/// it bounds the padding an operand can need.
pub const MAX_BLOCK_SHAPE: u64 = 1 << 20;

/// An example every error message offers as an accepted form.
const EXAMPLE: &str = "accepted forms: dense, unstructured(0.25), C1(2:4)->C0(2:4), RS->C2->C1(3:4)->C0(2:4)";

/// A rank above the G:H ranks: kept for display, or pruned without a fixed pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rank {
    /// The rank's name as typed (`RS`, `C2`).
    pub name: String,
    /// `C(unconstrained)`: any coordinate may be pruned, so the density is not fixed.
    pub unconstrained: bool,
}

/// A rank with a G:H rule: every fiber has shape H and occupancy at most G.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuledRank {
    pub name: String,
    pub g: u32,
    pub h: u32,
}

impl RuledRank {
    /// The rank's density G/H.
    pub fn density(&self) -> f64 {
        f64::from(self.g) / f64::from(self.h)
    }
}

/// An operand's sparsity pattern.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    Dense,
    /// Exactly `round(density * size)` nonzeros at uniformly random positions.
    Unstructured {
        density: f64,
    },
    /// Hierarchical structured sparsity: `prefix` ranks (no G:H rule) above `ruled` ranks, listed
    /// from the top ruled rank down to rank 0.
    Hss {
        prefix: Vec<Rank>,
        ruled: Vec<RuledRank>,
    },
}

/// Why a pattern string was rejected. Each message quotes the offending text.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum PatternError {
    #[error("empty pattern; {EXAMPLE}")]
    Empty,
    #[error("bad rank {0:?}: a rank name is letters then optional digits (RS, C2, K1); {EXAMPLE}")]
    BadRankName(String),
    #[error("missing ')' in {0:?}; {EXAMPLE}")]
    MissingParen(String),
    #[error("unexpected text after ')' in {0:?}; {EXAMPLE}")]
    TrailingText(String),
    #[error("unknown rule {0:?}: a rule is G:H or unconstrained; {EXAMPLE}")]
    UnknownRule(String),
    #[error("bad number {0:?} in rule; {EXAMPLE}")]
    BadNumber(String),
    #[error("G > H in {0:?}: a fiber of shape H cannot hold more than H nonzeros; {EXAMPLE}")]
    GAboveH(String),
    #[error("G = 0 in {0:?}: every fiber keeps at least one nonzero; {EXAMPLE}")]
    ZeroG(String),
    #[error("H = 0 in {0:?}: a fiber has at least one coordinate; {EXAMPLE}")]
    ZeroH(String),
    #[error(
        "ruled rank {ruled:?} above rank {below:?} without a G:H rule: G:H ranks must be the lowest ranks, ending at rank 0; {EXAMPLE}"
    )]
    RuledAboveUnruled { ruled: String, below: String },
    #[error("density {0:?} outside (0, 1] in unstructured(d); e.g. unstructured(0.25)")]
    BadDensity(String),
    #[error("{0} G:H ranks in {1:?}: at most {MAX_RULED_RANKS} are supported; {EXAMPLE}")]
    TooManyRuledRanks(usize, String),
    #[error(
        "the ranks of {0:?} span a block of more than {MAX_BLOCK_SHAPE} coordinates (the product of the H's); K is padded to whole blocks, so at most {MAX_BLOCK_SHAPE} are supported"
    )]
    BlockTooLarge(String),
}

impl Pattern {
    /// Parses a pattern (DESIGN.md 2 grammar). Arrows are `->` or `→`; spaces are allowed.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(PatternError::Empty);
        }
        if trimmed.eq_ignore_ascii_case("dense") {
            return Ok(Pattern::Dense);
        }
        if let Some(inner) = strip_call(trimmed, "unstructured") {
            let inner = inner.ok_or_else(|| match trimmed.contains(')') {
                true => PatternError::TrailingText(trimmed.to_string()),
                false => PatternError::MissingParen(trimmed.to_string()),
            })?;
            let density: f64 =
                inner.trim().parse().map_err(|_| PatternError::BadDensity(inner.trim().to_string()))?;
            if !(density > 0.0 && density <= 1.0) {
                return Err(PatternError::BadDensity(inner.trim().to_string()));
            }
            return Ok(Pattern::Unstructured { density });
        }
        let normalised = trimmed.replace('→', "->");
        let mut prefix = Vec::new();
        let mut ruled: Vec<RuledRank> = Vec::new();
        for token in normalised.split("->") {
            match parse_rank(token.trim())? {
                ParsedRank::Ruled(rank) => ruled.push(rank),
                ParsedRank::Plain(rank) => {
                    if let Some(above) = ruled.last() {
                        return Err(PatternError::RuledAboveUnruled {
                            ruled: format!("{}({}:{})", above.name, above.g, above.h),
                            below: token.trim().to_string(),
                        });
                    }
                    prefix.push(rank);
                }
            }
        }
        if ruled.len() > MAX_RULED_RANKS {
            return Err(PatternError::TooManyRuledRanks(ruled.len(), trimmed.to_string()));
        }
        let block = ruled.iter().try_fold(1u64, |b, r| b.checked_mul(u64::from(r.h)));
        if block.is_none_or(|b| b > MAX_BLOCK_SHAPE) {
            return Err(PatternError::BlockTooLarge(trimmed.to_string()));
        }
        Ok(Pattern::Hss { prefix, ruled })
    }

    /// Fraction of nonzeros; `None` when an unconstrained rank leaves it to the data.
    pub fn density(&self) -> Option<f64> {
        match self {
            Pattern::Dense => Some(1.0),
            Pattern::Unstructured { density } => Some(*density),
            Pattern::Hss { prefix, ruled } => {
                if prefix.iter().any(|r| r.unconstrained) {
                    None
                } else {
                    Some(ruled.iter().map(RuledRank::density).product())
                }
            }
        }
    }

    /// The G:H ranks, top ruled rank first, rank 0 last (empty for dense and unstructured).
    pub fn ruled_ranks(&self) -> &[RuledRank] {
        match self {
            Pattern::Hss { ruled, .. } => ruled,
            _ => &[],
        }
    }

    /// Number of K coordinates one fiber of the top ruled rank covers: the product of the ruled
    /// shapes. K is zero-padded up to a multiple of it (DESIGN.md 3).
    pub fn block_shape(&self) -> usize {
        self.ruled_ranks().iter().map(|r| r.h as usize).product()
    }

    /// `K` rounded up to a whole number of top-rank fibers.
    pub fn padded_k(&self, k: usize) -> usize {
        k.div_ceil(self.block_shape()) * self.block_shape()
    }
}

impl fmt::Display for Pattern {
    /// The canonical form: short rank names, ASCII arrows, no spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Dense => write!(f, "dense"),
            Pattern::Unstructured { density } => write!(f, "unstructured({})", readable(*density)),
            Pattern::Hss { prefix, ruled } => {
                let prefix = prefix.iter().map(|r| {
                    if r.unconstrained { format!("{}(unconstrained)", r.name) } else { r.name.clone() }
                });
                let ruled = ruled.iter().map(|r| format!("{}({}:{})", r.name, r.g, r.h));
                let ranks: Vec<String> = prefix.chain(ruled).collect();
                write!(f, "{}", ranks.join("->"))
            }
        }
    }
}

/// A number as people write it: plain, or in exponent form when plain would run to dozens of
/// digits (`1e-300`, not 300 zeros).
pub fn readable(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-6..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

impl std::str::FromStr for Pattern {
    type Err = PatternError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pattern::parse(s)
    }
}

enum ParsedRank {
    Plain(Rank),
    Ruled(RuledRank),
}

/// `name(inner)` → `Some(Some(inner))`, `name(...` without `)` → `Some(None)`, else `None`.
fn strip_call<'a>(text: &'a str, name: &str) -> Option<Option<&'a str>> {
    let head = text.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    let rest = text[name.len()..].trim_start().strip_prefix('(')?;
    Some(rest.strip_suffix(')'))
}

fn parse_rank(token: &str) -> Result<ParsedRank, PatternError> {
    let letters = token.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(token.len());
    let digits = token[letters..].find(|c: char| !c.is_ascii_digit()).map_or(token.len(), |i| letters + i);
    if letters == 0 {
        return Err(PatternError::BadRankName(token.to_string()));
    }
    let name = token[..digits].to_string();
    let rest = token[digits..].trim();
    if rest.is_empty() {
        return Ok(ParsedRank::Plain(Rank { name, unconstrained: false }));
    }
    let Some(after_open) = rest.strip_prefix('(') else {
        return Err(PatternError::BadRankName(token.to_string()));
    };
    let Some(close) = after_open.find(')') else {
        return Err(PatternError::MissingParen(token.to_string()));
    };
    if !after_open[close + 1..].trim().is_empty() {
        return Err(PatternError::TrailingText(token.to_string()));
    }
    let rule = after_open[..close].trim();
    if rule.eq_ignore_ascii_case("unconstrained") {
        return Ok(ParsedRank::Plain(Rank { name, unconstrained: true }));
    }
    let Some((g, h)) = rule.split_once(':') else {
        return Err(PatternError::UnknownRule(rule.to_string()));
    };
    let number = |s: &str| s.trim().parse::<u32>().map_err(|_| PatternError::BadNumber(s.trim().to_string()));
    let (g, h) = (number(g)?, number(h)?);
    match (g, h) {
        (_, 0) => Err(PatternError::ZeroH(token.to_string())),
        (0, _) => Err(PatternError::ZeroG(token.to_string())),
        (g, h) if g > h => Err(PatternError::GAboveH(token.to_string())),
        (g, h) => Ok(ParsedRank::Ruled(RuledRank { name, g, h })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure5_density_is_three_eighths() {
        let p = Pattern::parse("RS → C2 -> C1(3:4) -> C0(2:4)").unwrap();
        assert_eq!(p.to_string(), "RS->C2->C1(3:4)->C0(2:4)");
        assert_eq!(p.density(), Some(0.375));
        assert_eq!(p.block_shape(), 16);
        assert_eq!(p.padded_k(17), 32);
    }

    #[test]
    fn unconstrained_leaves_density_to_data() {
        let p = Pattern::parse("C(unconstrained)->R->S").unwrap();
        assert_eq!(p.density(), None);
        assert_eq!(p.to_string(), "C(unconstrained)->R->S");
    }
}
