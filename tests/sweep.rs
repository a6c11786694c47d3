//! Sweeps: outputs, CSV and JSON columns, figures, and shards merged into one full run.

use assert_cmd::Command;
use highlight_emu::counters::Counters;

const SWEEP: &str = r#"
name = "tiny"
description = "a tiny sweep"
[[grid]]
m = 64
k = 64
n = 48
a_sparsity = [0.0, 0.75]
b_sparsity = [0.0, 0.5]
[[points]]
m = 64
k = 64
n = 32
a = "K1(4:4)->K0(2:4)"
b = "K1(2:4)->K0(4:4)"
"#;

fn emu(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("highlight-emu").unwrap().args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = emu(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Shards 0/2 and 1/2 of `file` into `dir`/0-2 and `dir`/1-2; what each printed.
fn shards(dir: &std::path::Path, file: &str) -> Vec<String> {
    ["0/2", "1/2"]
        .iter()
        .map(|shard| {
            let out = dir.join(shard.replace('/', "-"));
            ok(&["sweep", file, "--backend", "cpu", "--shard", shard, "--out", out.to_str().unwrap()])
        })
        .collect()
}

#[test]
fn shards_merge_into_the_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let file = file.to_str().unwrap();
    let summary = ok(&["sweep", file, "--backend", "cpu", "--out", &path("full")]);
    assert!(summary.contains("| HighLight on dense x dense is at EDP parity with TC |"), "{summary}");
    assert!(summary.contains("2.00x (H1/2 = 2) | yes"), "{summary}");
    for (shard, out) in ["0/2", "1/2"].iter().zip(shards(dir.path(), file)) {
        assert!(out.starts_with(&format!("shard {shard}")), "{out}");
    }
    ok(&["merge", &path("0-2"), &path("1-2"), "--out", &path("merged")]);
    let read = |d: &str, f: &str| std::fs::read(dir.path().join(d).join(f)).unwrap();
    assert_eq!(read("merged", "results.csv"), read("full", "results.csv"));
    assert_eq!(read("merged", "summary.md"), read("full", "summary.md"));

    // CSV: one row per point and design, every counter, and the figures normalised to TC.
    let csv = String::from_utf8(read("full", "results.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    for column in
        Counters::NAMES.iter().chain(&["design", "a_runs_as", "order", "edp", "edp_vs_tc", "speedup_over_tc"])
    {
        assert!(header.contains(column), "no column {column}");
    }
    assert_eq!(csv.lines().count(), 1 + 5 * 6);
    let json: serde_json::Value = serde_json::from_slice(&read("full", "results.json")).unwrap();
    assert_eq!(json["points"], 5);
    assert_eq!(json["rows"].as_array().unwrap().len(), 30);
    assert_eq!(json["rows"][0]["design"], "tc");
    assert_eq!(json["rows"][0]["normalised_to_tc"]["edp"], 1.0);

    // Figures 13 and 14, as PNG and SVG.
    for name in ["fig13_edp", "fig13_energy", "fig13_latency", "fig14_geomean"] {
        let png = read("full", &format!("{name}.png"));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}.png");
        let svg = String::from_utf8(read("full", &format!("{name}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("normalised to TC"), "{name}.svg");
    }
}

#[test]
fn sweep_and_merge_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let file = file.to_str().unwrap();
    let err = |args: &[&str]| {
        let out = emu(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(err(&["sweep", file, "--shard", "2/2"]).contains("expected I/N with 0 <= I < N"));
    let shard = dir.path().join("s0");
    ok(&["sweep", file, "--backend", "cpu", "--shard", "0/2", "--out", shard.to_str().unwrap()]);
    let e = err(&["merge", shard.to_str().unwrap(), "--out", dir.path().join("m").to_str().unwrap()]);
    assert!(e.contains("shard 1/2 is missing"), "{e}");
    assert!(err(&["sweep", "/no/such.toml"]).contains("cannot read sweep file /no/such.toml"));
    // An existing folder that holds no earlier results is never overwritten.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let e = err(&["sweep", file, "--backend", "cpu", "--out", foreign.to_str().unwrap()]);
    assert!(e.contains("holds files this tool did not write"), "{e}");
    assert_eq!(std::fs::read_to_string(foreign.join("notes.txt")).unwrap(), "mine");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[[points]]\nm = 1\nk = 1\nn = 1\na = \"C0(5:4)\"\nb = \"dense\"\n")
        .unwrap();
    assert!(err(&["sweep", bad.to_str().unwrap()]).contains("G > H"));
}

/// A shard whose rows were removed, repeated, edited or given another design is refused by
/// merge, naming the shard (its digest, and each owned point once with the designs every point
/// ran, are checked), never merged into a wrong full run.
#[test]
fn merge_checks_the_rows_not_only_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    shards(dir.path(), file.to_str().unwrap());
    let results = dir.path().join("1-2/results.json");
    let original: serde_json::Value = serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    let rows = |v: &serde_json::Value| v["rows"].as_array().unwrap().clone();
    type Tamper = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "a row removed",
            Box::new(|v| {
                v["rows"].as_array_mut().unwrap().pop();
            }),
            "rows are not the 12 it wrote",
        ),
        (
            "a row repeated",
            Box::new(move |v| {
                let r = rows(v)[0].clone();
                v["rows"].as_array_mut().unwrap().push(r);
            }),
            "rows are not the 12 it wrote",
        ),
        (
            "a design renamed",
            Box::new(|v| v["rows"][1]["design"] = "dstc".into()),
            "rows are not the 12 it wrote",
        ),
        (
            "a figure edited",
            Box::new(|v| v["rows"][0]["result"]["cycles"] = 1.into()),
            "rows are not the 12 it wrote",
        ),
    ];
    for (what, tamper, says) in &cases {
        let mut v = original.clone();
        tamper(&mut v);
        std::fs::write(&results, serde_json::to_string(&v).unwrap()).unwrap();
        let out = emu(&["merge", &path("0-2"), &path("1-2"), "--out", &path("merged")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains("shard 1/2: its ") && err.contains(says), "{what}: {err}");
    }
    // With the digest recomputed to hide the edit, the rows themselves are still checked.
    let reseal = |v: &mut serde_json::Value| {
        let rows: Vec<highlight_emu::sweep::Row> = serde_json::from_value(v["rows"].clone()).unwrap();
        let digest = highlight_emu::sweep::RowsDigest::of(&rows);
        v["provenance"]["rows"] = serde_json::to_value(digest).unwrap();
    };
    let resealed: Vec<(&str, Tamper, &str)> = vec![
        ("a seed edited", Box::new(|v| v["rows"][2]["point"]["seed"] = 9.into()), "\"seed\":9,"),
        (
            "a row removed",
            Box::new(|v| {
                v["rows"].as_array_mut().unwrap().pop();
            }),
            "point 3 (A 75 % / B 50 %) ran tc, stc, dstc, s2ta, highlight; the other points ran tc, stc, dstc, s2ta, highlight, highlight-dsso",
        ),
        ("a design renamed", Box::new(|v| v["rows"][1]["design"] = "dstc".into()), "has two dstc rows"),
        (
            "a point's shape edited",
            Box::new(|v| v["rows"][0]["point"]["m"] = 7.into()),
            "the tc row of point 1 is {\"m\":7,",
        ),
        (
            "a point dropped",
            Box::new(|v| {
                let keep: Vec<_> =
                    v["rows"].as_array().unwrap().iter().filter(|r| r["point_index"] != 3).cloned().collect();
                v["rows"] = keep.into();
            }),
            "point 3 (A 75 % / B 50 %) has no rows",
        ),
    ];
    for (what, tamper, says) in &resealed {
        let mut v = original.clone();
        tamper(&mut v);
        reseal(&mut v);
        std::fs::write(&results, serde_json::to_string(&v).unwrap()).unwrap();
        let out = emu(&["merge", &path("0-2"), &path("1-2"), "--out", &path("merged")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains("shard 1/2: ") && err.contains(says), "{what}: {err}");
    }
    // Untouched, the shards merge.
    std::fs::write(&results, serde_json::to_string(&original).unwrap()).unwrap();
    ok(&["merge", &path("0-2"), &path("1-2"), "--out", &path("merged")]);
}

/// DNN layers at several weight sparsities: per-layer rows, the whole-network table, and the
/// DNN claim measured rather than skipped.
#[test]
fn dnn_layers_give_whole_network_figures() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("net.toml");
    std::fs::write(
        &file,
        r#"
name = "net"
weight_sparsity = [0.0, 0.75]
[[layers]]
name = "first"
m = 64
k = 64
n = 40
b_density = 0.5
[[layers]]
name = "second"
m = 32
k = 128
n = 16
count = 3
b_density = 1.0
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let summary = ok(&["sweep", file.to_str().unwrap(), "--backend", "cpu", "--out", out.to_str().unwrap()]);
    assert!(summary.contains("## Whole network"), "{summary}");
    assert!(summary.contains("| 75 % | highlight |"), "{summary}");
    assert!(summary.contains("vs TC") && summary.contains("over 4 layer points"), "{summary}");
    // S2TA cannot run dense weights, unless swapping puts a G:8 B in A's place.
    assert!(summary.contains("| 0 % | s2ta | unsupported on 1 of 2 layers"), "{summary}");
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 2 * 6);
    assert!(csv.lines().nth(1).unwrap().starts_with("0,first,1,64,64,40,0,0.5,tc,"), "{csv}");
    // No synthetic points, so no figures 13 and 14.
    assert!(!out.join("fig13_edp.png").exists());
}

/// Past FIG13_MAX_POINTS degree points, figure 13 (a bar group per point) is left out and the
/// summary says so; figure 14 and every row remain. The rows stream through the disk: the
/// results load back whole.
#[test]
fn a_long_sweep_leaves_figure_13_out_and_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let b: Vec<String> = (0..50).map(|i| format!("{}", i as f64 / 64.0)).collect();
    let text = format!(
        "name = \"long\"\n[[grid]]\nm = 8\nk = 16\nn = 8\na_sparsity = [0.0, 0.5, 0.625, 0.75, 0.875]\nb_sparsity = [{}]\n",
        b.join(", ")
    );
    const { assert!(250 > highlight_emu::sweep::FIG13_MAX_POINTS) };
    let file = dir.path().join("long.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    ok(&["sweep", file.to_str().unwrap(), "--backend", "cpu", "--out", out.to_str().unwrap()]);
    assert!(!out.join("fig13_edp.png").exists() && out.join("fig14_geomean.png").exists());
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("this sweep has 250, so it is left out"), "{summary}");
    let results = highlight_emu::sweep::Results::load(&out.join("results.json")).unwrap();
    assert_eq!(results.rows.len(), 250 * 6);
    assert_eq!(
        results.provenance.unwrap().rows.unwrap(),
        highlight_emu::sweep::RowsDigest::of(&results.rows)
    );
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 250 * 6);
    // The energy breakdown, which the slim rows in memory drop, is in the written rows.
    assert!(
        results.rows.iter().all(|r| r
            .outcome
            .result
            .as_ref()
            .is_none_or(|x| !x.energy_breakdown_pj.is_empty()))
    );
}
