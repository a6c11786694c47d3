//! Fuzz-style properties over every parser a user's text reaches (patterns, .npy headers, sweep
//! TOML, architecture TOML, Accelergy YAML, shard specs) and over the command line itself: any
//! input is accepted or refused with an error, never a panic, and the CLI exits 0 or 2.

use std::path::Path;

use assert_cmd::Command;
use highlight_emu::design::{Arch, Design};
use highlight_emu::energy::{AccelergyMap, Ert};
use highlight_emu::operand::npy;
use highlight_emu::pattern::{MAX_BLOCK_SHAPE, Pattern};
use highlight_emu::sweep::{Shard, SweepFile};
use proptest::prelude::*;

/// Numbers at the edges: zero, one, small, at and past 8-, 16-, 32- and 64-bit limits.
fn edgy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("1".to_string()),
        (2u64..17).prop_map(|v| v.to_string()),
        Just("255".to_string()),
        Just("65536".to_string()),
        Just("65537".to_string()),
        Just("4294967295".to_string()),
        Just("4294967296".to_string()),
        Just("9223372036854775807".to_string()),
        Just("18446744073709551615".to_string()),
        Just("-1".to_string()),
        Just("1e308".to_string()),
        Just("nan".to_string()),
        Just("\"x\"".to_string()),
    ]
}

fn rank() -> impl Strategy<Value = String> {
    ("[A-Z]{1,2}[0-9]?", edgy(), edgy(), any::<bool>())
        .prop_map(|(name, g, h, ruled)| if ruled { format!("{name}({g}:{h})") } else { name })
}

fn pattern_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(rank(), 0..6).prop_map(|r| r.join("->")),
        edgy().prop_map(|d| format!("unstructured({d})")),
        "[A-Za-z0-9:()>. \\-→]{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn patterns_parse_or_refuse(text in pattern_text(), k in 1usize..100_000) {
        if let Ok(p) = Pattern::parse(&text) {
            prop_assert!(p.block_shape() as u64 <= MAX_BLOCK_SHAPE);
            prop_assert!(p.padded_k(k) >= k);
            if let Some(d) = p.density() {
                prop_assert!(d > 0.0 && d <= 1.0, "{text}: density {d}");
            }
            prop_assert_eq!(Pattern::parse(&p.to_string()).ok(), Some(p));
        }
    }

    #[test]
    fn shard_specs_parse_or_refuse(text in prop_oneof!["[0-9]{0,25}/[0-9]{0,25}", "\\PC{0,12}"]) {
        if let Ok(s) = text.parse::<Shard>() {
            prop_assert!(s.index < s.count);
            prop_assert!(!s.takes(s.index + 1) || s.count == 1);
        }
    }

    #[test]
    fn npy_headers_read_or_refuse(
        dims in prop::collection::vec(edgy(), 0..4),
        descr in prop_oneof![Just("|i1"), Just("<f4"), Just("<f8"), Just("<i4"), Just("x")],
        data in 0usize..64,
        version in 0u8..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let shape = format!("({}{})", dims.join(", "), if dims.len() == 1 { "," } else { "" });
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        header.push_str(&" ".repeat(63 - (header.len() + 10) % 64));
        header.push('\n');
        let mut bytes = b"\x93NUMPY".to_vec();
        bytes.extend([version, 0]);
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(vec![1u8; data]);
        let path = dir.path().join("x.npy");
        std::fs::write(&path, bytes).unwrap();
        match npy::read_matrix(&path) {
            Ok(npy::NpyMatrix::I8(m)) => prop_assert_eq!(m.data.len(), m.rows * m.cols),
            Ok(npy::NpyMatrix::F32(m)) => prop_assert_eq!(m.data.len(), m.rows * m.cols),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn sweep_files_load_or_refuse(
        m in edgy(), k in edgy(), n in edgy(), count in edgy(),
        a_sparsity in prop_oneof![Just("0.0"), Just("0.5"), Just("0.625"), Just("0.3"), Just("-1.0"), Just("nan"), Just("1.0")],
        b_density in prop_oneof![Just("0.5"), Just("0.0"), Just("1.0"), Just("2.0"), Just("nan")],
        a in pattern_text(),
        name in prop_oneof![Just("ok"), Just("../x"), Just(""), Just("a/b"), Just("..")],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "name = {name:?}\n[[grid]]\nm = {m}\nk = {k}\nn = {n}\na_sparsity = [{a_sparsity}]\nb_sparsity = [0.0]\n\
             [[points]]\nm = {m}\nk = {k}\nn = {n}\na = {a:?}\nb = \"dense\"\n\
             weight_sparsity = [{a_sparsity}]\n[[layers]]\nname = \"l\"\nm = {m}\nk = {k}\nn = {n}\ncount = {count}\nb_density = {b_density}\n"
        );
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        if let Ok(sweep) = SweepFile::load(&path) {
            for p in sweep.points() {
                prop_assert!(p.m >= 1 && p.k >= 1 && p.n >= 1);
            }
            prop_assert!(sweep.layers.iter().all(|l| l.count >= 1));
        }
    }

    #[test]
    fn architectures_parse_or_refuse(
        arrays in edgy(), rows in edgy(), pes in edgy(), macs in edgy(), tile in edgy(),
        g in edgy(), h in edgy(), clock in prop_oneof![Just("1e9"), Just("0.0"), Just("-1.0"), Just("inf"), Just("nan")],
    ) {
        let text = format!(
            "name = \"x\"\nclock_hz = {clock}\narrays = {arrays}\nrows_per_array = {rows}\npes_per_row = {pes}\n\
             macs_per_pe = {macs}\ntile_n = {tile}\n[rank1]\ng = {g}\nh_min = {g}\nh_max = {h}\n\
             [rank0]\ng = {g}\nh_min = {g}\nh_max = {h}\n\
             [storage]\nglb_data_bytes = 1\nglb_meta_bytes = 1\nrf_bytes_per_array = 1\n"
        );
        if let Ok(arch) = Arch::parse(&text, "fuzz") {
            prop_assert!(arch.rows_per_group() >= 1);
            for design in Design::ALL {
                if let Ok(highlight_emu::design::Machine::TensorCore(df)) =
                    design.machine(&arch, &Pattern::Dense, &Pattern::Dense)
                {
                    let _ = df.cycles(1000, 1000, 1000);
                }
            }
        }
    }

    #[test]
    fn accelergy_tables_import_or_refuse(
        energies in prop::collection::vec(
            prop_oneof![Just("-0.5608"), Just(".nan"), Just(".inf"), Just("1e308"), Just("0"), Just("abc"), Just("5.5")],
            3,
        ),
    ) {
        let yaml = format!(
            "ERT:\n  version: 0.3\n  tables:\n  - name: system.SM.Subpartition[0..3].MAC\n    actions:\n    \
             - name: mac_random\n      energy: {}\n    - name: mac_gated\n      energy: {}\n  \
             - name: system.LRF\n    actions:\n    - name: read\n      energy: {}\n",
            energies[0], energies[1], energies[2]
        );
        let map: AccelergyMap = toml::from_str(
            "[actions.mac]\ncomponent = \"MAC\"\naction = \"mac_random\"\n\
             [actions.pe_reg]\ncomponent = \"LRF\"\naction = \"read\"\nscale = 2.0\n",
        ).unwrap();
        if let Ok(ert) = Ert::from_accelergy(&yaml, "fuzz.yaml", &map, &Ert::default_45nm()) {
            prop_assert!(ert.actions.values().all(|a| a.pj.is_finite() && a.pj >= 0.0), "{ert:?}");
        }
    }
}

proptest! {
    // Each case starts the binary: fewer cases, the same parsers end to end.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_cli_exits_0_or_2(
        pattern in pattern_text(),
        rows in edgy(),
        cols in edgy(),
        shard in prop_oneof!["[0-9]{1,20}/[0-9]{1,20}", "\\PC{0,6}"],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let workloads = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/fig13.toml");
        let commands: Vec<Vec<String>> = vec![
            vec!["spec".into(), pattern.clone()],
            vec!["gen".into(), "--operand".into(), "a".into(), "--rows".into(), rows.clone(), "--cols".into(),
                 cols.clone(), "--pattern".into(), pattern.clone(), "--out".into(), "g.npy".into()],
            vec!["run".into(), "--design".into(), "highlight".into(), "--m".into(), rows.clone(), "--k".into(),
                 cols.clone(), "--n".into(), "1".into(), "--a".into(), pattern.clone(), "--backend".into(), "cpu".into()],
            vec!["sweep".into(), workloads.display().to_string(), "--shard".into(), shard.clone(),
                 "--backend".into(), "cpu".into(), "--out".into(), "".into()],
        ];
        for args in commands {
            let out = Command::cargo_bin("highlight-emu").unwrap().current_dir(dir.path())
                .env("HIGHLIGHT_EMU_MAX_MEMORY", "256M").args(&args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            prop_assert!(matches!(out.status.code(), Some(0) | Some(2)), "{args:?}: {:?} {err}", out.status.code());
            prop_assert!(!err.contains("panicked"), "{args:?}: {err}");
        }
    }
}

/// `run` of a small HighLight point on the CPU reference, then `extra`.
fn small_run(extra: &[&str]) -> Vec<String> {
    let base = ["run", "--design", "highlight", "--m", "16", "--k", "16", "--n", "16", "--backend", "cpu"];
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

/// `sweep` of workloads/fig13.toml on the CPU reference, then `extra`.
fn fig13_sweep(extra: &[&str]) -> Vec<String> {
    let workloads = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/fig13.toml").display().to_string();
    ["sweep", &workloads, "--backend", "cpu"].iter().chain(extra).map(|s| s.to_string()).collect()
}

/// A hostile text file: brackets nested `depth` deep (the rest of a 1 MB file), or one record
/// that never ends.
fn hostile(kind: usize, depth: usize) -> (String, &'static str) {
    let deep = "[".repeat(depth);
    match kind {
        0 => (format!("mapping:\n- target: DRAM\n  factors: {deep}\n"), "brackets nested more than 64 deep"),
        1 => (format!("a = {deep}\n"), "brackets nested more than 64 deep"),
        2 => (format!("{{\"points\": {deep}"), "brackets nested more than 64 deep"),
        _ => (format!("design,weight_sparsity,accuracy_loss\n{}", "x".repeat(depth)), "row 1"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Every text input goes through the bounded reader: nested brackets up to 1 MB deep in a
    /// mapping, an energy table, an architecture, a sweep file or a validation reference, and an
    /// accuracy table whose first record never ends, are each one line and exit 2.
    #[test]
    fn hostile_text_files_are_refused_at_once(kind in 0usize..4, depth in 65usize..(1 << 20), flag in 0usize..3) {
        let dir = tempfile::tempdir().unwrap();
        let (text, says) = hostile(kind, depth);
        let file = dir.path().join("hostile");
        std::fs::write(&file, text).unwrap();
        let f = file.display().to_string();
        let args: Vec<String> = match (kind, flag) {
            (0, 0) => small_run(&["--mapping", &f]),
            (0, _) => small_run(&["--ert", &f]),
            (1, 0) => small_run(&["--arch", &f]),
            (1, _) => vec!["sweep".into(), f.clone(), "--backend".into(), "cpu".into()],
            (2, _) => {
                let copy = dir.path().join("v");
                std::fs::create_dir(&copy).unwrap();
                std::fs::copy(&file, copy.join("reference.json")).unwrap();
                vec!["validate".into(), "--backend".into(), "cpu".into(), "--dir".into(), copy.display().to_string()]
            }
            _ => fig13_sweep(&["--accuracy", &f]),
        };
        let out = Command::cargo_bin("highlight-emu").unwrap().current_dir(dir.path()).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        prop_assert_eq!(out.status.code(), Some(2), "{:?}: {}", args, err);
        prop_assert_eq!(err.lines().count(), 1, "{}", err);
        prop_assert!(err.contains(says), "{}", err);
    }
}

/// A text file past 16 MiB, or one that never ends (a device), is refused by its size.
#[test]
fn text_files_are_bounded_in_size() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, vec![b'#'; (16 << 20) + 1]).unwrap();
    let big = big.display().to_string();
    for args in [small_run(&["--mapping", &big]), fig13_sweep(&["--accuracy", "/dev/zero"])] {
        let flag = &args[args.len() - 2];
        let out = Command::cargo_bin("highlight-emu")
            .unwrap()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains("more than 16 MiB; accepted: text files of at most that size"), "{flag}: {err}");
    }
}

/// Two shards of a small sweep, written by the tool and loaded back.
fn shard_pair() -> Vec<highlight_emu::sweep::Results> {
    static PAIR: std::sync::OnceLock<Vec<highlight_emu::sweep::Results>> = std::sync::OnceLock::new();
    PAIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(&file, "name = \"s\"\n[[grid]]\nm = 8\nk = 16\nn = 8\na_sparsity = [0.0, 0.5]\nb_sparsity = [0.0, 0.5]\n")
            .unwrap();
        (0..2)
            .map(|i| {
                let out = dir.path().join(format!("s{i}"));
                let status = Command::cargo_bin("highlight-emu")
                    .unwrap()
                    .args(["sweep", file.to_str().unwrap(), "--backend", "cpu", "--shard", &format!("{i}/2"), "--out"])
                    .arg(&out)
                    .output()
                    .unwrap();
                assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
                highlight_emu::sweep::Results::load(&out.join("results.json")).unwrap()
            })
            .collect()
    })
    .clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any row removed, repeated, moved to another point or given another design is refused by
    /// merge, with or without a digest recomputed to hide it; the untouched pair merges.
    #[test]
    fn merge_refuses_any_shard_whose_rows_were_changed(
        shard in 0usize..2, row in 0usize..12, op in 0usize..4, reseal in any::<bool>(), other in 0usize..6,
    ) {
        let mut parts = shard_pair();
        prop_assert!(highlight_emu::sweep::Results::merge(parts.clone()).is_ok());
        let rows = &mut parts[shard].rows;
        let i = row % rows.len();
        match op {
            0 => { rows.remove(i); }
            1 => { let r = rows[i].clone(); rows.push(r); }
            2 => rows[i].point_index = (rows[i].point_index + 2) % 4,
            _ => {
                let d = Design::ALL[other];
                if rows[i].outcome.design == d { rows[i].outcome.design = Design::ALL[(other + 1) % 6]; } else { rows[i].outcome.design = d; }
            }
        }
        if reseal {
            let digest = highlight_emu::sweep::RowsDigest::of(&parts[shard].rows);
            parts[shard].provenance.as_mut().unwrap().rows = Some(digest);
        }
        let err = highlight_emu::sweep::Results::merge(parts).unwrap_err().to_string();
        prop_assert!(err.contains(&format!("shard {shard}/2: ")), "{}", err);
    }
}
