//! What the tool promises a hostile but realistic user (issue 10): output folders and files are
//! never destroyed or half-written, bad input exits 2 with one line and never panics, memory is
//! checked before it is spent, and shards of different sweeps do not merge.

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use assert_cmd::cargo::CommandCargoExt;

const SWEEP: &str = r#"
name = "tiny"
seed = 3
[[grid]]
m = 32
k = 32
n = 16
a_sparsity = [0.0, 0.5]
b_sparsity = [0.0]
"#;

fn emu() -> Command {
    Command::cargo_bin("highlight-emu").unwrap()
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    emu().current_dir(dir).args(args).output().unwrap()
}

/// The command's stderr, after checking it failed with exit 2 in one line and did not panic.
fn refused(out: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_eq!(err.trim_end().lines().filter(|l| l.starts_with("error:")).count(), 1, "{what}: {err}");
    err
}

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            names.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    names.sort();
    names
}

/// A folder with a sweep file, a user's file and a subfolder to run from.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), SWEEP).unwrap();
    std::fs::write(dir.path().join("precious.txt"), "mine").unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("notes.txt"), "also mine").unwrap();
    (dir, sub)
}

#[test]
fn sweep_and_merge_never_replace_the_current_folder_or_its_parents() {
    let (dir, sub) = workspace();
    let before = listing(dir.path());
    let sweep = "../tiny.toml";
    let sub_text = sub.to_str().unwrap().to_string();
    let dir_dot = format!("{}/.", dir.path().display());
    for out in [".", "..", "./", "../sub/.", &sub_text, &dir_dot, dir.path().to_str().unwrap()] {
        let err = refused(&run_in(&sub, &["sweep", sweep, "--backend", "cpu", "--out", out]), out);
        assert!(
            err.contains("not '.', '..'") || err.contains("current folder or one above it"),
            "{out}: {err}"
        );
    }
    ok(&run_in(&sub, &["sweep", sweep, "--backend", "cpu", "--shard", "0/2", "--out", "../s0"]), "shard 0");
    ok(&run_in(&sub, &["sweep", sweep, "--backend", "cpu", "--shard", "1/2", "--out", "../s1"]), "shard 1");
    for out in [".", "..", "../s0", "../s1", dir.path().to_str().unwrap()] {
        let err = refused(&run_in(&sub, &["merge", "../s0", "../s1", "--out", out]), out);
        assert!(
            err.contains("not '.', '..'")
                || err.contains("current folder")
                || err.contains("replace its input"),
            "{out}: {err}"
        );
    }
    let after: Vec<String> =
        listing(dir.path()).into_iter().filter(|f| !f.starts_with("s0") && !f.starts_with("s1")).collect();
    assert_eq!(after, before);
    assert_eq!(std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(), "mine");
    assert_eq!(std::fs::read_to_string(sub.join("notes.txt")).unwrap(), "also mine");
}

#[test]
fn an_output_folder_is_replaced_only_when_it_holds_only_the_tools_outputs() {
    let (dir, sub) = workspace();
    let args = |out: &str| ["sweep", "../tiny.toml", "--backend", "cpu", "--out", out].map(String::from);
    let run = |out: &str| run_in(&sub, &args(out).iter().map(String::as_str).collect::<Vec<_>>());
    ok(&run("../r"), "first run");
    let r = dir.path().join("r");
    let marker: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r.join(".highlight-emu-output")).unwrap()).unwrap();
    let listed: Vec<&str> = marker["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(listed.contains(&"results.json") && listed.contains(&"summary.md"), "{marker}");
    // Our own outputs are replaced, and nothing is left beside them.
    ok(&run("../r"), "second run");
    let beside: Vec<String> = listing(dir.path()).into_iter().filter(|f| f.contains("partial")).collect();
    assert!(beside.is_empty(), "left beside: {beside:?}");
    // A user's file inside, or a folder with results.json but no marker, is refused untouched.
    std::fs::write(r.join("mine.txt"), "x").unwrap();
    let err = refused(&run("../r"), "foreign file");
    assert!(err.contains("\"mine.txt\", which this tool did not write"), "{err}");
    assert!(r.join("mine.txt").exists() && r.join("results.json").exists());
    let fake = dir.path().join("fake");
    std::fs::create_dir(&fake).unwrap();
    std::fs::write(fake.join("results.json"), "{}").unwrap();
    let err = refused(&run("../fake"), "no marker");
    assert!(err.contains("no .highlight-emu-output"), "{err}");
    // A symlink or a file at the folder's path is refused.
    std::os::unix::fs::symlink(&sub, dir.path().join("link")).unwrap();
    assert!(refused(&run("../link"), "symlink").contains("symbolic link"));
    assert!(refused(&run("../precious.txt"), "file").contains("not an output folder"));
    assert_eq!(std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(), "mine");
}

#[test]
fn leftovers_of_an_interrupted_run_are_removed_only_when_ours() {
    let (dir, sub) = workspace();
    // A dead run's temporary folder (marker with a pid that cannot exist) and a stranger's.
    let dead = dir.path().join(".r.abc123.partial");
    std::fs::create_dir(&dead).unwrap();
    std::fs::write(dead.join(".highlight-emu-output"), r#"{"written_by":"x","pid":4294967295,"files":[]}"#)
        .unwrap();
    let stranger = dir.path().join(".r.xyz.partial");
    std::fs::create_dir(&stranger).unwrap();
    let out = run_in(&sub, &["sweep", "../tiny.toml", "--backend", "cpu", "--out", "../r"]);
    ok(&out, "sweep");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!dead.exists(), "{err}");
    assert!(stranger.exists() && err.contains("this tool did not remove it"), "{err}");
}

#[test]
fn sweep_names_cannot_leave_results() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["../evil", "a/b", ".", "..", "", "x y", "/abs"] {
        let file = dir.path().join("s.toml");
        std::fs::write(&file, SWEEP.replace("name = \"tiny\"", &format!("name = {name:?}"))).unwrap();
        let err = refused(&run_in(dir.path(), &["sweep", "s.toml", "--backend", "cpu"]), name);
        assert!(err.contains("letters, digits"), "{name}: {err}");
    }
    assert_eq!(listing(dir.path()), vec!["s.toml"]);
}

#[test]
fn merge_accepts_only_shards_of_one_sweep() {
    let (dir, sub) = workspace();
    let shard = |file: &str, spec: &str, out: &str, extra: &[&str]| {
        let mut args = vec!["sweep", file, "--backend", "cpu", "--shard", spec, "--out", out];
        args.extend(extra);
        ok(&run_in(&sub, &args), out);
    };
    std::fs::write(dir.path().join("other.toml"), SWEEP.replace("seed = 3", "seed = 4")).unwrap();
    shard("../tiny.toml", "0/2", "../a0", &[]);
    shard("../tiny.toml", "1/2", "../a1", &[]);
    shard("../other.toml", "1/2", "../b1", &[]);
    let ert = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/accelergy/TC-ERT_summary.yaml");
    shard("../tiny.toml", "1/2", "../e1", &["--ert", ert.to_str().unwrap()]);
    let merge = |a: &str, b: &str| run_in(&sub, &["merge", a, b, "--out", "../m"]);
    assert!(refused(&merge("../a0", "../b1"), "seed").contains("differ in sweep file"));
    assert!(refused(&merge("../a0", "../e1"), "ert").contains("differ in energy table"));
    assert!(refused(&merge("../a0", "../a0"), "twice").contains("given twice"));
    // Tampered shards: out-of-range, zero or huge indices, no rows, another version.
    let json = std::fs::read_to_string(dir.path().join("a1/results.json")).unwrap();
    let tampered = |name: &str, from: &str, to: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        assert!(json.contains(from), "{from}");
        std::fs::write(d.join("results.json"), json.replacen(from, to, 1)).unwrap();
        format!("../{name}")
    };
    let cases = [
        ("t1", "\"index\": 1", "\"index\": 7"),
        ("t2", "\"count\": 2", "\"count\": 0"),
        ("t3", "\"count\": 2", "\"count\": 18446744073709551615"),
        ("t4", "\"rows\": [", "\"rows\": [], \"x\": ["),
        ("t5", "\"tool\": \"highlight-emu", "\"tool\": \"highlight-emu 9"),
    ];
    for (name, from, to) in cases {
        let t = tampered(name, from, to);
        let err = refused(&merge("../a0", &t), name);
        assert!(err.contains("merge") || err.contains("shard") || err.contains("differ"), "{name}: {err}");
    }
    assert!(!dir.path().join("m").exists());
    ok(&merge("../a0", "../a1"), "the real pair merges");
}

/// Waits until a `*.partial` entry appears under `dir`, interrupts `child`, and checks that it
/// exits with 130 leaving no partial entry behind.
fn interrupt_mid_write(mut child: std::process::Child, dir: &Path, what: &str) {
    let start = Instant::now();
    while !listing(dir).iter().any(|f| f.contains(".partial")) {
        assert!(start.elapsed() < Duration::from_secs(60), "{what}: no temporary appeared");
        assert!(child.try_wait().unwrap().is_none(), "{what}: finished before it was interrupted");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Process::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{what}");
    let left: Vec<String> =
        listing(dir).into_iter().filter(|f| f.contains("partial") || f.contains("runtime")).collect();
    assert!(left.is_empty(), "{what} left {left:?}");
}

#[test]
fn an_interrupted_write_leaves_no_partial_files() {
    let (dir, sub) = workspace();
    let spawn = |args: &[&str]| {
        Process::cargo_bin("highlight-emu")
            .unwrap()
            .current_dir(&sub)
            .args(args)
            .env("HIGHLIGHT_EMU_TEST_PAUSE_MS", "30000")
            // The private runtime folder a GPU-capable command makes goes here, to be checked.
            .env_remove("XDG_RUNTIME_DIR")
            .env("TMPDIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let generate =
        ["gen", "--operand", "a", "--rows", "64", "--cols", "64", "--pattern", "K0(2:4)", "--out", "a.npy"];
    interrupt_mid_write(spawn(&generate), dir.path(), "gen");
    assert!(!sub.join("a.npy").exists());
    let save = [
        "run",
        "--design",
        "tc",
        "--m",
        "16",
        "--k",
        "16",
        "--n",
        "16",
        "--backend",
        "cpu",
        "--save",
        "saved",
    ];
    interrupt_mid_write(spawn(&save), dir.path(), "run --save");
    assert!(!sub.join("saved").exists());
    // An earlier sweep's outputs survive an interrupted replacement.
    ok(&run_in(&sub, &["sweep", "../tiny.toml", "--backend", "cpu", "--out", "../r"]), "first sweep");
    let before = std::fs::read(dir.path().join("r/results.json")).unwrap();
    interrupt_mid_write(
        spawn(&["sweep", "../tiny.toml", "--backend", "cpu", "--out", "../r"]),
        dir.path(),
        "sweep",
    );
    assert_eq!(std::fs::read(dir.path().join("r/results.json")).unwrap(), before);

    // A signal after the new folder is in place says it is complete, and where.
    let started = std::time::SystemTime::now();
    let mut child = Process::cargo_bin("highlight-emu")
        .unwrap()
        .current_dir(&sub)
        .args(["sweep", "../tiny.toml", "--backend", "cpu", "--out", "../r"])
        .env("HIGHLIGHT_EMU_TEST_PAUSE_AFTER_MS", "30000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let results = dir.path().join("r/results.json");
    let start = Instant::now();
    while !std::fs::metadata(&results).and_then(|m| m.modified()).is_ok_and(|t| t > started) {
        assert!(start.elapsed() < Duration::from_secs(60), "the new output never appeared");
        assert!(child.try_wait().unwrap().is_none(), "finished before it was interrupted");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(Process::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("interrupted after the output was written: the new output is complete at ../r"),
        "{err}"
    );
    assert!(!listing(dir.path()).iter().any(|f| f.contains("partial")));
}

#[test]
fn files_are_written_through_exclusive_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "untouched").unwrap();
    // A symlink planted at the old fixed temporary name, and one at the target itself.
    std::os::unix::fs::symlink(&victim, dir.path().join(".a.npy.partial")).unwrap();
    let generate = |out: &str, seed: &str| run_in(dir.path(), &gen_args(out, seed));
    ok(&generate("a.npy", "1"), "gen beside a planted link");
    std::os::unix::fs::symlink(&victim, dir.path().join("link.npy")).unwrap();
    assert!(refused(&generate("link.npy", "1"), "symlink target").contains("symbolic link"));
    assert!(refused(&generate("/dev/null", "1"), "device").contains("is a device"));
    let fifo = dir.path().join("fifo.npy");
    assert!(Process::new("mkfifo").arg(&fifo).status().unwrap().success());
    assert!(refused(&generate("fifo.npy", "1"), "fifo").contains("a FIFO"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    assert!(std::fs::symlink_metadata(dir.path().join(".a.npy.partial")).unwrap().is_symlink());
    // Two writers racing to one path leave one complete file, from one of them.
    ok(&generate("one.npy", "1"), "seed 1");
    ok(&generate("two.npy", "2"), "seed 2");
    let (one, two) = (
        std::fs::read(dir.path().join("one.npy")).unwrap(),
        std::fs::read(dir.path().join("two.npy")).unwrap(),
    );
    for round in 0..4 {
        let spawn = |seed: &str| {
            let args = gen_args("race.npy", seed);
            Process::cargo_bin("highlight-emu")
                .unwrap()
                .current_dir(dir.path())
                .args(args)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        };
        let (mut x, mut y) = (spawn("1"), spawn("2"));
        assert!(x.wait().unwrap().success() && y.wait().unwrap().success());
        let raced = std::fs::read(dir.path().join("race.npy")).unwrap();
        assert!(raced == one || raced == two, "round {round}: a spliced file");
    }
    // The output has the permissions a plain create gives (the temporary was private).
    use std::os::unix::fs::PermissionsExt;
    let umask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string())))
        .and_then(|v| u32::from_str_radix(&v, 8).ok())
        .unwrap_or(0o022);
    let mode = std::fs::metadata(dir.path().join("one.npy")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o666 & !umask);
    // A file name at the file system's 255-byte limit works.
    let long = format!("{}.npy", "n".repeat(251));
    ok(&generate(&long, "1"), "long name");
    assert_eq!(std::fs::read(dir.path().join(&long)).unwrap(), one);
    let left: Vec<String> = listing(dir.path())
        .into_iter()
        .filter(|f| f.ends_with(".partial") && f != ".a.npy.partial")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `gen` of a 256 x 256 2:4 operand A with `seed` into `out`.
fn gen_args<'a>(out: &'a str, seed: &'a str) -> [&'a str; 13] {
    [
        "gen",
        "--operand",
        "a",
        "--rows",
        "256",
        "--cols",
        "256",
        "--pattern",
        "K0(2:4)",
        "--seed",
        seed,
        "--out",
        out,
    ]
}

/// A `.npy` file with the given header fields and data bytes.
fn npy_file(dir: &Path, name: &str, descr: &str, shape: &str, data: &[u8]) -> String {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    header.push_str(&" ".repeat(63 - (header.len() + 10) % 64));
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn inputs_that_used_to_panic_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let huge = "K3(1:65536)->K2(1:65536)->K1(1:65536)->K0(1:65536)";
    let wrap = npy_file(d, "wrap.npy", "|i1", "(4611686018427387904, 4)", &[]);
    let big = npy_file(d, "big.npy", "|i1", "(4294967296, 4294967296)", &[]);
    let empty = npy_file(d, "empty.npy", "|i1", "(0, 4)", &[]);
    let inf: Vec<u8> = [1.0f32, f32::INFINITY, 2.0, 3.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let inf = npy_file(d, "inf.npy", "<f4", "(1, 4)", &inf);
    let ok_npy = npy_file(d, "ok.npy", "|i1", "(8, 16)", &[1u8; 128]);
    let arch = d.join("arch.toml");
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/arch/tc.toml")).unwrap();
    let overflowing = shipped
        .replace("arrays = 4", "arrays = 4294967296")
        .replace("rows_per_array = 16", "rows_per_array = 4294967296");
    std::fs::write(&arch, overflowing).unwrap();
    let sweep = |name: &str, body: &str| {
        std::fs::write(d.join(name), format!("name = \"x\"\n{body}")).unwrap();
        name.to_string()
    };
    let m0 = sweep("m0.toml", "[[points]]\nm = 0\nk = 8\nn = 8\na = \"dense\"\nb = \"dense\"\n");
    let n0 = sweep("n0.toml", "[[grid]]\nm = 8\nk = 8\nn = 0\na_sparsity = [0.5]\nb_sparsity = [0.0]\n");
    let k0 = sweep("k0.toml", "[[grid]]\nm = 8\nk = 0\nn = 8\na_sparsity = [0.5]\nb_sparsity = [0.0]\n");
    let count0 = sweep(
        "count0.toml",
        "weight_sparsity = [0.5]\n[[layers]]\nname = \"l\"\nm = 8\nk = 8\nn = 8\ncount = 0\nb_density = 0.5\n",
    );
    let huge_point =
        sweep("hp.toml", &format!("[[points]]\nm = 8\nk = 8\nn = 8\na = {huge:?}\nb = \"dense\"\n"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["gen", "--operand", "a", "--rows", "4", "--cols", "8", "--pattern", huge, "--out", "x.npy"],
            "span a block",
        ),
        (
            vec![
                "run",
                "--design",
                "tc",
                "--m",
                "8",
                "--k",
                "8",
                "--n",
                "8",
                "--a",
                huge,
                "--backend",
                "cpu",
            ],
            "span a block",
        ),
        (vec!["prune", "--pattern", huge, "--in", &ok_npy, "--out", "p.npy"], "span a block"),
        (vec!["prune", "--pattern", "K0(1:4294967295)", "--in", &ok_npy, "--out", "p.npy"], "span a block"),
        (vec!["sweep", &huge_point, "--backend", "cpu"], "span a block"),
        (vec!["prune", "--pattern", "K0(2:4)", "--in", &wrap, "--out", "p.npy"], "more than 2^32 elements"),
        (vec!["prune", "--pattern", "K0(2:4)", "--in", &big, "--out", "p.npy"], "more than 2^32 elements"),
        (vec!["prune", "--pattern", "K0(2:4)", "--in", &empty, "--out", "p.npy"], "at least one row"),
        (
            vec!["prune", "--pattern", "K0(2:4)", "--in", &inf, "--out", "p.npy"],
            "inf.npy: holds inf at [0, 1] (the first value that is not finite); accepted: finite values",
        ),
        (vec!["sweep", &m0, "--backend", "cpu"], "at least 1"),
        (vec!["sweep", &n0, "--backend", "cpu"], "at least 1"),
        (vec!["sweep", &k0, "--backend", "cpu"], "at least 1"),
        (vec!["sweep", &count0, "--backend", "cpu"], "count must be at least 1"),
        (
            vec![
                "run",
                "--design",
                "tc",
                "--m",
                "8",
                "--k",
                "8",
                "--n",
                "8",
                "--backend",
                "cpu",
                "--arch",
                arch.to_str().unwrap(),
            ],
            "at most 65536",
        ),
        (
            vec![
                "degrees",
                "--design",
                "highlight",
                "--arch",
                concat!(env!("CARGO_MANIFEST_DIR"), "/assets/arch/tc.toml"),
            ],
            "needs [rank1] and [rank0]",
        ),
        (vec!["prune", "--pattern", "K0(2:4)", "--in", "missing.npy", "--out", "p.npy"], "No such file"),
    ];
    for (args, expect) in cases {
        let err = refused(&run_in(d, &args), &args.join(" "));
        assert!(err.contains(expect), "{args:?}: {err}");
        // An OS error is quoted once.
        assert!(err.matches("os error").count() <= 1, "{err}");
    }
    let good = sweep("good.toml", "[[points]]\nm = 8\nk = 8\nn = 8\na = \"dense\"\nb = \"dense\"\n");
    let err = refused(
        &run_in(d, &["sweep", &good, "--shard", "0/18446744073709551615", "--backend", "cpu"]),
        "shard",
    );
    assert!(err.contains("at most 1 shards"), "{err}");
    assert!(!d.join("p.npy").exists() && !d.join("x.npy").exists() && !d.join("results").exists());
}

#[test]
fn a_closed_or_full_stdout_is_not_a_panic() {
    let closed = |args: &[&str]| {
        let mut child = Process::cargo_bin("highlight-emu")
            .unwrap()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        (out.status.code(), err)
    };
    let (code, err) =
        closed(&["run", "--design", "tc", "--m", "64", "--k", "64", "--n", "64", "--backend", "cpu"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = closed(&["spec", "K0(2:4)"]);
    assert_eq!(code, Some(0), "{err}");
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out =
        Process::cargo_bin("highlight-emu").unwrap().args(["spec", "K0(2:4)"]).stdout(full).output().unwrap();
    let err = refused(&out, "spec > /dev/full");
    assert!(err.contains("cannot write to standard output"), "{err}");
}

#[test]
fn memory_is_checked_before_it_is_spent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let timed = |args: &[&str], cap: Option<&str>| {
        let mut cmd = emu();
        cmd.current_dir(d).args(args);
        if let Some(cap) = cap {
            cmd.env("HIGHLIGHT_EMU_MAX_MEMORY", cap);
        }
        let start = Instant::now();
        let out = cmd.output().unwrap();
        let err = refused(&out, &args.join(" "));
        assert!(start.elapsed() < Duration::from_secs(10), "{args:?} took {:?}", start.elapsed());
        assert!(err.contains("of memory; this machine has"), "{args:?}: {err}");
        err
    };
    std::fs::write(d.join("big.toml"), "name = \"big\"\n[[grid]]\nm = 100000\nk = 100000\nn = 100000\na_sparsity = [0.5]\nb_sparsity = [0.0]\n").unwrap();
    timed(&["sweep", "big.toml", "--backend", "cpu"], None);
    timed(&["compare", "--m", "100000", "--k", "100000", "--n", "100000", "--backend", "cpu"], None);
    timed(
        &["run", "--design", "tc", "--m", "100000", "--k", "100000", "--n", "100000", "--backend", "cpu"],
        None,
    );
    // 256^3 fits in 1.2 MB, its swapped copies do not.
    let run = ["run", "--design", "tc", "--m", "256", "--k", "256", "--n", "256", "--backend", "cpu"];
    let out = emu().current_dir(d).args(run).env("HIGHLIGHT_EMU_MAX_MEMORY", "1200K").output().unwrap();
    ok(&out, "run without --swap");
    timed(&[&run[..], &["--swap"]].concat(), Some("1200K"));
    timed(&["bench", "--sizes", "100000", "--designs", "tc", "--backend", "cpu"], None);
    for repeats in ["0", "10001", "18446744073709551615"] {
        let out =
            emu().args(["bench", "--sizes", "8", "--repeats", repeats, "--backend", "cpu"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "--repeats {repeats}");
    }
    // prune: a padded row of a large block.
    let npy = npy_file(d, "w.npy", "|i1", "(8, 16)", &[1u8; 128]);
    timed(&["prune", "--pattern", "K0(1:1048576)", "--in", &npy, "--out", "p.npy"], Some("1M"));
    timed(
        &[
            "gen",
            "--operand",
            "a",
            "--rows",
            "4096",
            "--cols",
            "8",
            "--pattern",
            "K0(1:1048576)",
            "--out",
            "g.npy",
        ],
        Some("1G"),
    );
    assert_eq!(listing(d), vec!["big.toml", "w.npy"]);
}

#[test]
fn energy_tables_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fixture = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/accelergy/TC-ERT_summary.yaml"),
    )
    .unwrap();
    let first_energy = fixture.find("energy: ").unwrap() + "energy: ".len();
    let end = first_energy + fixture[first_energy..].find('\n').unwrap();
    let with_energy = |e: &str| format!("{}{e}{}", &fixture[..first_energy], &fixture[end..]);
    std::fs::write(d.join("neg.yaml"), with_energy("-0.5608")).unwrap();
    std::fs::write(d.join("nan.yaml"), with_energy(".nan")).unwrap();
    std::fs::write(d.join("upper.YAML"), &fixture).unwrap();
    let shipped_map =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/ert/accelergy-map.toml"))
            .unwrap();
    let at = shipped_map.find("\ncomponent").unwrap() + 1;
    std::fs::write(
        d.join("neg-map.toml"),
        format!("{}scale = -1\n{}", &shipped_map[..at], &shipped_map[at..]),
    )
    .unwrap();
    let shipped_ert =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/ert/default-45nm.toml"))
            .unwrap();
    let pj_at = shipped_ert.find("pj = ").unwrap() + "pj = ".len();
    let pj_end = pj_at + shipped_ert[pj_at..].find(['\n', ',', ' ']).unwrap();
    std::fs::write(d.join("huge.toml"), format!("{}1e308{}", &shipped_ert[..pj_at], &shipped_ert[pj_end..]))
        .unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
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
        ];
        args.extend(extra);
        run_in(d, &args)
    };
    assert!(refused(&run(&["--ert", "neg.yaml"]), "negative").contains("finite, non-negative"));
    assert!(refused(&run(&["--ert", "nan.yaml"]), "nan").contains("finite, non-negative"));
    assert!(
        refused(&run(&["--ert", "upper.YAML", "--ert-map", "neg-map.toml"]), "map").contains("scale = -1")
    );
    assert!(refused(&run(&["--ert", "huge.toml"]), "overflow").contains("not a finite energy"));
    assert!(
        refused(&run(&["--ert", "upper.YAML", "--ert-map", "none.toml"]), "missing map")
            .contains("--ert-map file none.toml")
    );
    assert!(
        refused(&run(&["--ert", "huge.toml", "--ert-map", "neg-map.toml"]), "toml map")
            .contains("--ert-map applies to Accelergy")
    );
    let result: serde_json::Value =
        serde_json::from_str(&ok(&run(&["--ert", "upper.YAML"]), "upper-case YAML")).unwrap();
    assert!(result["ert"].as_str().unwrap().contains("Accelergy"), "{result}");
}

#[test]
fn small_promises() {
    // An empty adapter name is no name.
    let gpu = |adapter: Option<&str>| {
        let mut cmd = emu();
        cmd.args(["run", "--design", "tc", "--m", "8", "--k", "8", "--n", "8", "--backend", "gpu", "--json"]);
        cmd.env_remove("HIGHLIGHT_ADAPTER");
        if let Some(a) = adapter {
            cmd.env("HIGHLIGHT_ADAPTER", a);
        }
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (unset, empty) = (gpu(None), gpu(Some("")));
    assert_eq!(unset.0, empty.0, "{unset:?} {empty:?}");
    assert_eq!(unset.1.lines().last(), empty.1.lines().last());
    // Tiny densities print as numbers people read.
    let out =
        String::from_utf8(emu().args(["spec", "unstructured(1e-300)"]).output().unwrap().stdout).unwrap();
    assert!(out.contains("unstructured(1e-300)") && out.lines().all(|l| l.len() < 80), "{out}");
    // Mesa's runtime-folder warning does not reach the user.
    let out = emu().arg("devices").env_remove("XDG_RUNTIME_DIR").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !err.contains("XDG_RUNTIME_DIR"), "{err}");
}
