//! The Slurm job scripts (scripts/slurm/) on a real single-node Slurm cluster, started and stopped
//! by this test (scripts/slurm/local-cluster.sh: munged, slurmctld, slurmd): a sweep as a 4-task
//! job array with its merge as an `afterok` dependency gives the outputs of one full run, byte for
//! byte; a cancelled task makes the merge refuse naming the missing shard, and resubmitting that
//! one task completes it. Without `sbatch` the test says so, and fails under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_highlight-emu");

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm")
}

/// A running cluster in a folder, stopped when dropped.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let out = Command::new(scripts().join("local-cluster.sh")).arg("start").arg(dir).output().unwrap();
        assert!(
            out.status.success(),
            "the cluster did not start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Cluster { dir: dir.to_path_buf(), conf: dir.join("slurm.conf") }
    }

    /// A Slurm command against this cluster, run in `cwd`.
    fn command(&self, program: &str, cwd: &Path) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf)
            .env("HIGHLIGHT_EMU", BIN)
            .env("XDG_RUNTIME_DIR", "/tmp")
            .current_dir(cwd);
        c
    }

    /// Runs a command, which must succeed; its stdout.
    fn ok(&self, program: &str, args: &[&str], cwd: &Path) -> String {
        let out = self.command(program, cwd).args(args).output().unwrap();
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The state of a job (`COMPLETED`, `FAILED`, `CANCELLED`, ...), once it has ended.
    fn wait(&self, job: &str, cwd: &Path) -> String {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let show = self.ok("scontrol", &["show", "job", job], cwd);
            let states: Vec<&str> =
                show.split_whitespace().filter_map(|w| w.strip_prefix("JobState=")).collect();
            if !states.is_empty()
                && states.iter().all(|s| !matches!(*s, "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING"))
            {
                return states.join(",");
            }
            assert!(Instant::now() < deadline, "job {job} still not done after 300 s: {show}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(scripts().join("local-cluster.sh")).arg("stop").arg(&self.dir).status();
    }
}

/// Whether `sbatch` is on PATH (it cannot say its version without a cluster to ask).
fn has_sbatch() -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("sbatch").is_file()))
}

const SWEEP: &str = "name = \"small\"\nseed = 2\n\n[[grid]]\nm = 64\nk = 64\nn = 64\na_sparsity = [0.0, 0.5, 0.75]\nb_sparsity = [0.0, 0.5]\n";

#[test]
fn slurm_array_and_merge_equal_one_full_run() {
    if !has_sbatch() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but sbatch is not installed: .ci/run installs Debian's slurm-wlm and munge");
        }
        eprintln!(
            "slurm_array_and_merge_equal_one_full_run: SKIPPED, no sbatch (install slurm-wlm and munge)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("small.toml"), SWEEP).unwrap();
    let cluster = Cluster::start(&tmp.path().join("cluster"));
    let read = |p: &str| std::fs::read(work.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));

    // One full run, for comparison.
    let full = Command::new(BIN)
        .args(["sweep", "small.toml", "--out", "full", "--backend", "cpu"])
        .current_dir(&work)
        .output()
        .unwrap();
    assert!(full.status.success(), "{}", String::from_utf8_lossy(&full.stderr));

    // The array and its merge, as submit.sh submits them.
    let submit = scripts().join("submit.sh");
    let ids = cluster.ok(submit.to_str().unwrap(), &["small.toml", "out", "4"], &work);
    let (array, merge) = ids.split_once(' ').unwrap();
    assert_eq!(cluster.wait(array, &work), "COMPLETED,COMPLETED,COMPLETED,COMPLETED", "four tasks");
    assert_eq!(cluster.wait(merge, &work), "COMPLETED");
    for f in ["results.csv", "summary.md"] {
        assert!(
            read(&format!("out/merged/{f}")) == read(&format!("full/{f}")),
            "merged {f} differs from the full run's"
        );
    }

    // A held array with task 2 cancelled before it starts: the merge (after any outcome) refuses
    // naming the missing shard.
    let sweep_array = scripts().join("sweep-array.sbatch");
    let merge_script = scripts().join("merge.sbatch");
    let held = cluster.ok(
        "sbatch",
        &[
            "--parsable",
            "--hold",
            "--array=0-3",
            sweep_array.to_str().unwrap(),
            "small.toml",
            "out2",
            "4",
            "cpu",
        ],
        &work,
    );
    cluster.ok("scancel", &[&format!("{held}_2")], &work);
    cluster.ok("scontrol", &["release", &held], &work);
    let states = cluster.wait(&held, &work);
    // The cancelled task never ran (Slurm drops its record): three tasks, no shard 2.
    assert_eq!(states, "COMPLETED,COMPLETED,COMPLETED", "{states}");
    assert!(!work.join("out2/shard-2").exists());
    // The merge of out2's four shards, once `job` ends as `dependency` asks.
    let merge_after = |dependency: &str, job: &str| {
        cluster.ok(
            "sbatch",
            &[
                "--parsable",
                &format!("--dependency={dependency}:{job}"),
                merge_script.to_str().unwrap(),
                "out2",
                "4",
            ],
            &work,
        )
    };
    let refused = merge_after("afterany", &held);
    assert_eq!(cluster.wait(&refused, &work), "FAILED");
    let log = String::from_utf8(read(&format!("highlight-emu-merge-{refused}.out"))).unwrap();
    assert!(log.contains("shard 2/4 is missing"), "{log}");
    assert!(!work.join("out2/merged").exists(), "a refused merge writes nothing");

    // Task 2 alone, then the merge: the full run's outputs again.
    let again = cluster.ok(
        "sbatch",
        &["--parsable", "--array=2", sweep_array.to_str().unwrap(), "small.toml", "out2", "4", "cpu"],
        &work,
    );
    let merged = merge_after("afterok", &again);
    assert_eq!(cluster.wait(&again, &work), "COMPLETED");
    assert_eq!(cluster.wait(&merged, &work), "COMPLETED");
    for f in ["results.csv", "summary.md"] {
        assert!(read(&format!("out2/merged/{f}")) == read(&format!("full/{f}")), "out2/merged/{f} differs");
    }
}
