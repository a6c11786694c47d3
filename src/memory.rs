//! Memory is checked before it is spent: each command estimates its peak from the shapes it was
//! given and refuses, naming the estimate and what the machine has available, before it
//! allocates anything large.

use thiserror::Error;

/// A request the machine cannot hold.
#[derive(Debug, Error)]
#[error("{what} needs about {need} of memory; this machine has {have} available")]
pub struct TooLarge {
    pub what: String,
    pub need: String,
    pub have: String,
}

/// Memory available to the tool: what the kernel says is available, capped by
/// `HIGHLIGHT_EMU_MAX_MEMORY` (bytes, or with a K, M, G or T suffix) where it is set, e.g. to
/// stay inside a shared node's share.
pub fn available_bytes() -> Option<u64> {
    let cap = std::env::var("HIGHLIGHT_EMU_MAX_MEMORY").ok().and_then(|v| parse_size(&v));
    let meminfo = (|| {
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    })();
    match (meminfo, cap) {
        (Some(m), Some(c)) => Some(m.min(c)),
        (m, c) => m.or(c),
    }
}

/// `123`, `64K`, `512M`, `2G`, `1T` (powers of 1024) as bytes.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last()? {
        (i, 'K' | 'k') => (&text[..i], 10),
        (i, 'M' | 'm') => (&text[..i], 20),
        (i, 'G' | 'g') => (&text[..i], 30),
        (i, 'T' | 't') => (&text[..i], 40),
        _ => (text, 0),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(1 << shift)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// Refuses `need` bytes (`None`: more than a u64 counts) when the machine has less available;
/// `what` names the request in the message.
pub fn check(what: impl FnOnce() -> String, need: Option<u64>) -> Result<(), TooLarge> {
    let have = available_bytes();
    match (need, have) {
        (Some(need), Some(have)) if need <= have => Ok(()),
        (Some(_), None) => Ok(()),
        (need, have) => Err(TooLarge {
            what: what(),
            need: need.map_or("more than 16 EiB".into(), gib),
            have: have.map_or("an unknown amount".into(), gib),
        }),
    }
}

/// Bytes one run holds at once: A and B with their compressed forms (at most twice their size),
/// Z and the dense product it is checked against; with `swap`, also the transposed copies of
/// both and the swapped run's Z.
pub fn run_bytes(m: usize, k: usize, n: usize, swap: bool) -> Option<u64> {
    let (m, k, n) = (m as u64, k as u64, n as u64);
    let operands = m.checked_mul(k)?.checked_add(k.checked_mul(n)?)?;
    let outputs = m.checked_mul(n)?.checked_mul(4)?;
    let (operand_copies, output_copies) = if swap { (4, 5) } else { (3, 2) };
    operands.checked_mul(operand_copies)?.checked_add(outputs.checked_mul(output_copies)?)
}

/// Bytes of `sets` operand pairs kept at once (each with its dense product), plus one run.
pub fn point_bytes(m: usize, k: usize, n: usize, sets: usize) -> Option<u64> {
    let (m64, k64, n64) = (m as u64, k as u64, n as u64);
    let set = m64
        .checked_mul(k64)?
        .checked_add(k64.checked_mul(n64)?)?
        .checked_add(m64.checked_mul(n64)?.checked_mul(4)?)?;
    set.checked_mul(sets as u64)?.checked_add(run_bytes(m, k, n, true)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_refused_not_wrapped() {
        assert_eq!(run_bytes(usize::MAX, 2, 1, false), None);
        assert!(check(|| "x".into(), None).unwrap_err().to_string().contains("more than 16 EiB"));
        assert_eq!(run_bytes(2, 3, 4, false), Some((6 + 12) * 3 + 8 * 4 * 2));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("7"), Some(7));
        assert_eq!(parse_size("99999999999T"), None);
        assert_eq!(parse_size("x"), None);
    }
}
