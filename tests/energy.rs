//! Energy tables from Accelergy: the real ERTs of the Sparseloop artifact map onto our actions.

use approx::assert_relative_eq;
use highlight_emu::energy::Ert;
use std::path::Path;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/accelergy").join(name)
}

#[test]
fn accelergy_ert_maps_onto_our_actions() {
    let ert = Ert::load_any(&fixture("STC-ERT.yaml"), None).unwrap();
    assert_eq!(ert.name, "STC-ERT (Accelergy)");
    let pj = |a: &str| ert.actions[a].pj;
    assert_relative_eq!(pj("mac"), 0.5608);
    assert_relative_eq!(pj("mac_gated"), 0.01798);
    assert_relative_eq!(pj("pe_reg"), 0.072);
    assert_relative_eq!(pj("rf_read"), 1.65889);
    assert_relative_eq!(pj("rf_write"), 1.67589);
    assert_relative_eq!(pj("glb_read"), 285.71464 / 64.0);
    assert_relative_eq!(pj("glb_meta_read"), 25.8695 / 8.0);
    // Actions Accelergy's tables lack keep the default table's values.
    assert_eq!(pj("adder"), Ert::default_45nm().actions["adder"].pj);
    assert!(ert.actions["mac"].source.as_ref().unwrap().contains("MAC.mac_random"));
    // The summary form reads the same way.
    let tc = Ert::load_any(&fixture("TC-ERT_summary.yaml"), None).unwrap();
    assert_relative_eq!(tc.actions["mac"].pj, 0.44688);
}

#[test]
fn accelergy_errors_name_what_is_missing() {
    let err = Ert::load_any(&fixture("no-smem-ERT.yaml"), None).unwrap_err().to_string();
    assert!(
        err.contains("no SMEM.")
            && err.contains("the table has: DRAM.read, DRAM.write, LRF.read, MAC.mac_gated"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let not_ert = dir.path().join("x.yaml");
    std::fs::write(&not_ert, "hello: world\n").unwrap();
    let err = Ert::load_any(&not_ert, None).unwrap_err().to_string();
    assert!(err.contains("no ERT.tables or ERT_summary.table_summary list"), "{err}");
}

#[test]
fn run_uses_an_accelergy_table() {
    let out = assert_cmd::Command::cargo_bin("highlight-emu")
        .unwrap()
        .args([
            "run",
            "--design",
            "highlight",
            "--m",
            "64",
            "--k",
            "64",
            "--n",
            "64",
            "--backend",
            "cpu",
            "--json",
            "--ert",
        ])
        .arg(fixture("STC-ERT.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ert"], "STC-ERT (Accelergy)");
    assert_relative_eq!(
        v["energy_breakdown_pj"]["mac"].as_f64().unwrap(),
        v["counters"]["mac"].as_f64().unwrap() * 0.5608
    );
}
