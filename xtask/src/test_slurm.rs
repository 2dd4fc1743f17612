//! `cargo xtask test-slurm`: proves the Slurm path of zoo generation on a real one-node Slurm
//! (munged, slurmctld and slurmd of this machine, started here and stopped by pid): a job
//! array of `fmnist-smoke-v1` networks, one task cancelled mid-run with `scancel`, the same
//! command resubmitted, the shards merged, and the merged zoo compared with a one-process run.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use peephole_zoo::{ZooRecord, read_zoo};

use crate::process;
use crate::setup;
use crate::slurm::{self, SlurmClient};
use crate::zoo_merge::{self, default_shards, shard_file};

/// Debian's packages of the cluster.
pub const PACKAGES: [&str; 2] = ["slurm-wlm", "munge"];
/// The programs the test runs.
const PROGRAMS: [&str; 8] = [
    "munged",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "scancel",
    "scontrol",
    "sinfo",
];
/// The protocol of the test's networks: about a second each.
const PROTOCOL: &str = "fmnist-smoke-v1";
/// The generator stream of the test's networks.
const SEED: u64 = 7;
/// The array task the test cancels.
const VICTIM: u64 = 1;

/// Options of `test-slurm`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Keep the work folder (slurm.conf, daemon logs, task logs, zoo files) on success too.
    #[arg(long)]
    keep: bool,
    /// Tasks in the job array (at least 4).
    #[arg(long, default_value_t = 4)]
    tasks: u64,
    /// Networks to train (at least three per task, so one can be cancelled mid-run).
    #[arg(long, default_value_t = 16)]
    count: u64,
    /// A trainer already built (by `cargo xtask test`'s test build); built here when absent.
    #[arg(skip)]
    pub trainer: Option<PathBuf>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            keep: false,
            tasks: 4,
            count: 16,
            trainer: None,
        }
    }
}

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|dir| dir.join(program).is_file())
}

/// Installs slurm-wlm and munge when a program is missing (root only, like `setup`).
fn ensure_installed() -> anyhow::Result<()> {
    let missing: Vec<&str> = PROGRAMS.into_iter().filter(|p| !on_path(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !setup::is_root() {
        bail!(
            "the one-node Slurm test needs {} (missing: {}); install them as root: apt-get install {}",
            PACKAGES.join(" and "),
            missing.join(", "),
            PACKAGES.join(" ")
        );
    }
    process::run(Command::new("apt-get").args(["update", "-qq"]))?;
    process::run(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(PACKAGES)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let still: Vec<&str> = PROGRAMS.into_iter().filter(|p| !on_path(p)).collect();
    if !still.is_empty() {
        bail!(
            "installing {} left {} missing",
            PACKAGES.join(" "),
            still.join(", ")
        );
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free TCP port")?;
    Ok(listener.local_addr()?.port())
}

fn short_hostname() -> anyhow::Result<String> {
    let output = process::read(Command::new("hostname").arg("-s"))?;
    let name = output.stdout.trim().to_string();
    if name.is_empty() {
        bail!("hostname -s printed nothing");
    }
    Ok(name)
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn slurmstepd_pids() -> HashSet<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashSet::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.starts_with(b"slurmstepd"))
        })
        .collect()
}

/// A daemon this test started, in the foreground, so its pid is the child's.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

/// A one-node cluster of this machine; dropping it stops every daemon it started.
struct Cluster {
    dir: PathBuf,
    node: String,
    client: SlurmClient,
    daemons: Vec<Daemon>,
    steps_before: HashSet<u32>,
    stopped: bool,
}

impl Cluster {
    fn start(dir: &Path) -> anyhow::Result<Cluster> {
        // munged refuses a socket folder that others cannot enter.
        let munge = dir.join("munge");
        for d in [
            dir.to_path_buf(),
            munge.clone(),
            dir.join("state"),
            dir.join("spool"),
        ] {
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755))?;
        }
        let key = munge.join("munge.key");
        let mut bytes = vec![0u8; 1024];
        File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        std::fs::write(&key, &bytes)?;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400))?;
        let socket = munge.join("munge.socket");
        let node = short_hostname()?;
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let conf = dir.join("slurm.conf");
        let d = dir.display();
        std::fs::write(
            &conf,
            format!(
                "# One-node cluster of peephole's `cargo xtask test-slurm`, generated.\n\
                 ClusterName=peephole-test\n\
                 SlurmctldHost={node}(127.0.0.1)\n\
                 SlurmctldPort={ctld_port}\n\
                 SlurmdPort={slurmd_port}\n\
                 SlurmUser=root\n\
                 SlurmdUser=root\n\
                 AuthType=auth/munge\n\
                 AuthInfo=socket={socket}\n\
                 CredType=cred/munge\n\
                 StateSaveLocation={d}/state\n\
                 SlurmdSpoolDir={d}/spool\n\
                 SlurmctldPidFile={d}/slurmctld.pid\n\
                 SlurmdPidFile={d}/slurmd.pid\n\
                 SlurmctldLogFile={d}/slurmctld.log\n\
                 SlurmdLogFile={d}/slurmd.log\n\
                 ProctrackType=proctrack/linuxproc\n\
                 TaskPlugin=task/none\n\
                 SelectType=select/cons_tres\n\
                 SelectTypeParameters=CR_CPU\n\
                 SchedulerType=sched/backfill\n\
                 MpiDefault=none\n\
                 ReturnToService=2\n\
                 KillWait=5\n\
                 JobCompType=jobcomp/none\n\
                 AccountingStorageType=accounting_storage/none\n\
                 NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n\
                 PartitionName=test Nodes={node} Default=YES MaxTime=INFINITE State=UP\n",
                ctld_port = free_port()?,
                slurmd_port = free_port()?,
                socket = socket.display(),
            ),
        )?;
        let mut cluster = Cluster {
            dir: dir.to_path_buf(),
            node: node.clone(),
            client: SlurmClient {
                conf: Some(conf.clone()),
            },
            daemons: Vec::new(),
            steps_before: slurmstepd_pids(),
            stopped: false,
        };
        let mut munged = Command::new("munged");
        munged
            .arg("--foreground")
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", munge.join("munged.pid").display()))
            .arg(format!("--log-file={}", munge.join("munged.log").display()))
            .arg(format!(
                "--seed-file={}",
                munge.join("munged.seed").display()
            ));
        cluster.spawn("munged", munged)?;
        cluster.wait_until("munged's socket", Duration::from_secs(15), || {
            Ok(socket.exists())
        })?;
        let mut slurmctld = cluster.client.command("slurmctld");
        slurmctld.args(["-D", "-i", "-f"]).arg(&conf);
        cluster.spawn("slurmctld", slurmctld)?;
        let mut slurmd = cluster.client.command("slurmd");
        slurmd.args(["-D", "-N", &node, "-f"]).arg(&conf);
        cluster.spawn("slurmd", slurmd)?;
        let client = cluster.client.clone();
        cluster.wait_until("the node to be idle", Duration::from_secs(60), || {
            Ok(client
                .output("sinfo", &["-h", "-N", "-o", "%t"])
                .is_ok_and(|s| s.trim() == "idle"))
        })?;
        Ok(cluster)
    }

    fn spawn(&mut self, name: &'static str, mut command: Command) -> anyhow::Result<()> {
        let log = self.dir.join(format!("{name}.out"));
        let child = process::spawn_logged(&mut command, &log)?;
        self.daemons.push(Daemon { name, child, log });
        Ok(())
    }

    /// Polls `ready` until it holds, failing with the daemons' last words when one of them
    /// exits or time runs out.
    fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut() -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if ready()? {
                return Ok(());
            }
            for daemon in &mut self.daemons {
                if let Ok(Some(status)) = daemon.child.try_wait() {
                    bail!(
                        "{} exited ({status}) while waiting for {what}; its output:\n{}",
                        daemon.name,
                        tail(&daemon.log, 20)
                    );
                }
            }
            if start.elapsed() > timeout {
                let logs: Vec<String> = self
                    .daemons
                    .iter()
                    .map(|d| format!("--- {} ---\n{}", d.name, tail(&d.log, 10)))
                    .collect();
                bail!(
                    "no {what} after {:?}; the daemons' output:\n{}",
                    timeout,
                    logs.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Cancels whatever is still queued, then stops the daemons (slurmd, slurmctld, munged) by
    /// pid: SIGTERM, then SIGKILL after ten seconds. Returns what it did, one line each.
    fn stop(&mut self) -> Vec<String> {
        if self.stopped {
            return Vec::new();
        }
        self.stopped = true;
        let mut done = Vec::new();
        if let Ok(jobs) = self.client.output("squeue", &["-h", "-o", "%A"]) {
            let jobs: Vec<&str> = jobs.split_whitespace().collect();
            if !jobs.is_empty() {
                let _ = self.client.output("scancel", &jobs);
                done.push(format!("cancelled jobs still queued: {}", jobs.join(" ")));
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(20)
                    && self
                        .client
                        .output("squeue", &["-h", "-o", "%A"])
                        .is_ok_and(|s| !s.trim().is_empty())
                {
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        while let Some(mut daemon) = self.daemons.pop() {
            let pid = daemon.child.id();
            process::succeeds(Command::new("kill").args(["-TERM", &pid.to_string()]));
            let start = Instant::now();
            let mut how = "SIGTERM";
            loop {
                match daemon.child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if start.elapsed() < Duration::from_secs(10) => {
                        std::thread::sleep(Duration::from_millis(100))
                    }
                    _ => {
                        let _ = daemon.child.kill();
                        let _ = daemon.child.wait();
                        how = "SIGKILL";
                        break;
                    }
                }
            }
            done.push(format!("stopped {} (pid {pid}, {how})", daemon.name));
        }
        // Job steps the daemons left behind are ours too.
        for pid in slurmstepd_pids().difference(&self.steps_before) {
            process::succeeds(Command::new("kill").args(["-KILL", &pid.to_string()]));
            done.push(format!("killed a leftover slurmstepd (pid {pid})"));
        }
        done
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for line in self.stop() {
            eprintln!("test-slurm: {line}");
        }
    }
}

/// Waits until a job (or array) has left the queue.
fn wait_for_job(client: &SlurmClient, job: &str, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        match client.output("squeue", &["-h", "-j", job, "-o", "%i"]) {
            Ok(s) if s.trim().is_empty() => return Ok(()),
            Err(_) => return Ok(()), // already purged: an unknown id
            Ok(_) if start.elapsed() > timeout => bail!("job {job} still queued after {timeout:?}"),
            Ok(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// `array task -> JobState` of a job array, from `scontrol show job`.
fn task_states(client: &SlurmClient, job: &str) -> BTreeMap<u64, String> {
    let text = client
        .output("scontrol", &["-o", "show", "job", job])
        .unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix(name).map(str::to_string))
            };
            Some((field("ArrayTaskId=")?.parse().ok()?, field("JobState=")?))
        })
        .collect()
}

fn records(path: &Path) -> anyhow::Result<Vec<ZooRecord>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    Ok(read_zoo(path)?.records)
}

/// Every record of every shard file, with the file.
fn shard_records(out: &Path) -> anyhow::Result<Vec<(PathBuf, ZooRecord)>> {
    let mut all = Vec::new();
    for shard in default_shards(out)? {
        all.extend(records(&shard)?.into_iter().map(|r| (shard.clone(), r)));
    }
    Ok(all)
}

fn without_wall_time(mut record: ZooRecord) -> ZooRecord {
    record.wall_seconds = 0.0;
    record
}

/// The test proper, on a running cluster; prints what it sees.
fn exercise(cluster: &Cluster, args: &Args, trainer: &Path) -> anyhow::Result<()> {
    let client = &cluster.client;
    let out = cluster.dir.join("zoo").join(format!("{PROTOCOL}.jsonl"));
    let (tasks, count) = (args.tasks, args.count);
    let command = zoo_command(&out, tasks, count, trainer);
    println!("  command: cargo xtask zoo {}", command.join(" "));

    let first = slurm::write_and_submit(&command, client)?;
    let job = first
        .submission
        .as_ref()
        .context("--submit submitted nothing")?
        .job_id
        .clone();
    println!(
        "  job {job}: {tasks} tasks, {count} networks of {PROTOCOL}, script {}",
        first.script.display()
    );
    let victim_ids = (0..count).filter(|i| i % tasks == VICTIM).count();
    let written_before_cancel = cancel_victim_mid_run(client, &job, &out, tasks, victim_ids)?;
    println!("  scancel {job}_{VICTIM} after {written_before_cancel} of its {victim_ids} networks");
    wait_for_job(client, &job, Duration::from_secs(600))?;
    check_only_the_victim_was_cancelled(client, &job, &out)?;

    let expected: BTreeSet<String> = (0..count).map(|i| format!("s{SEED}-{i:06}")).collect();
    let before = shard_records(&out)?;
    let missing = expected.len()
        - before
            .iter()
            .map(|(_, r)| &r.id)
            .collect::<BTreeSet<_>>()
            .len();
    if missing == 0 {
        bail!("nothing was missing after the cancel: the test proved nothing about resubmission");
    }
    let report = zoo_merge::merge(&out, &default_shards(&out)?)?;
    println!("  zoo-merge after the cancel: {report}");

    let after = resubmit_trains_only_the_missing(client, &command, &first, &out, &before, missing)?;
    merge_twice_changes_nothing(&out)?;
    let merged = check_merged(&out, &after, &expected, count)?;
    equals_one_process_run(cluster, &first.trainer.path, merged, count)
}

/// The zoo command line of the test: `--slurm` with the test's array, time limit and trainer.
fn zoo_command(out: &Path, tasks: u64, count: u64, trainer: &Path) -> Vec<String> {
    [
        "--protocol",
        PROTOCOL,
        "--count",
        &count.to_string(),
        "--seed",
        &SEED.to_string(),
        "--threads",
        "1",
        "--out",
        &out.to_string_lossy(),
        "--slurm",
        "--array-size",
        &tasks.to_string(),
        "--cpus-per-task",
        "1",
        "--time",
        "00:10:00",
        "--trainer",
        &trainer.to_string_lossy(),
        "--submit",
    ]
    .into_iter()
    .map(str::to_string)
    .collect()
}

/// Cancels task [`VICTIM`] of `job` once it has written a record, before it writes its last
/// (it has `victim_ids` networks); returns how many it had written.
fn cancel_victim_mid_run(
    client: &SlurmClient,
    job: &str,
    out: &Path,
    tasks: u64,
    victim_ids: usize,
) -> anyhow::Result<usize> {
    let victim = shard_file(out, VICTIM, tasks);
    let start = Instant::now();
    loop {
        let written = records(&victim)?.len();
        if written >= 1 {
            if written >= victim_ids {
                bail!(
                    "task {VICTIM} trained all {victim_ids} of its networks before the test could cancel it"
                );
            }
            client.output("scancel", &[&format!("{job}_{VICTIM}")])?;
            return Ok(written);
        }
        if start.elapsed() > Duration::from_secs(300) {
            bail!(
                "task {VICTIM} wrote no record in 5 minutes; see {}/logs",
                zoo_merge::shards_dir(out).display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Fails unless the victim task ended cancelled and every other task completed.
fn check_only_the_victim_was_cancelled(
    client: &SlurmClient,
    job: &str,
    out: &Path,
) -> anyhow::Result<()> {
    let states = task_states(client, job);
    println!(
        "  job {job} left the queue: {}",
        states
            .iter()
            .map(|(t, s)| format!("task {t} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if states.get(&VICTIM).is_some_and(|s| s != "CANCELLED") {
        bail!(
            "task {VICTIM} ended {:?}, not CANCELLED",
            states.get(&VICTIM)
        );
    }
    if let Some((task, state)) = states
        .iter()
        .find(|(t, s)| **t != VICTIM && *s != "COMPLETED")
    {
        bail!(
            "task {task} ended {state}; see its log in {}/logs",
            zoo_merge::shards_dir(out).display()
        );
    }
    Ok(())
}

/// Submits the same command again and checks that it wrote the same script, kept every shard
/// record of `before`, and trained exactly the `missing` networks; returns the shard records
/// after it.
fn resubmit_trains_only_the_missing(
    client: &SlurmClient,
    command: &[String],
    first: &slurm::Written,
    out: &Path,
    before: &[(PathBuf, ZooRecord)],
    missing: usize,
) -> anyhow::Result<Vec<(PathBuf, ZooRecord)>> {
    let second = slurm::write_and_submit(command, client)?;
    let job2 = second
        .submission
        .context("--submit submitted nothing")?
        .job_id;
    if second.script != first.script
        || std::fs::read(&second.script)? != std::fs::read(&first.script)?
    {
        // Same command, same script: the pinned trainer and arguments did not drift.
        bail!("resubmitting the same command wrote a different script");
    }
    wait_for_job(client, &job2, Duration::from_secs(600))?;
    let after = shard_records(out)?;
    if let Some((file, lost)) = before.iter().find(|b| !after.contains(b)) {
        bail!(
            "record {} of {} was lost or changed by the resubmission",
            lost.id,
            file.display()
        );
    }
    let retrained = after.len().saturating_sub(before.len());
    println!(
        "  job {job2} (the same command again): trained {retrained} networks, {missing} were missing"
    );
    if retrained != missing {
        bail!("the resubmission trained {retrained} networks, but {missing} were missing");
    }
    Ok(after)
}

/// Merges the shards into `out`, then merges again and checks that nothing changed.
fn merge_twice_changes_nothing(out: &Path) -> anyhow::Result<()> {
    let report = zoo_merge::merge(out, &default_shards(out)?)?;
    println!("  zoo-merge: {report}");
    if !report.trained_twice.is_empty() {
        bail!("records trained twice: {report}");
    }
    let bytes = std::fs::read(out)?;
    let again = zoo_merge::merge(out, &default_shards(out)?)?;
    if !again.appended.is_empty() || std::fs::read(out)? != bytes {
        bail!("merging again changed {}: {again}", out.display());
    }
    println!(
        "  zoo-merge again: nothing appended, {} unchanged",
        out.display()
    );
    Ok(())
}

/// The merged file: every id exactly once, no torn line, every shard record unchanged.
/// Returns its records.
fn check_merged(
    out: &Path,
    shards: &[(PathBuf, ZooRecord)],
    expected: &BTreeSet<String>,
    count: u64,
) -> anyhow::Result<Vec<ZooRecord>> {
    let merged = read_zoo(out)?;
    if !merged.bad_lines.is_empty() {
        bail!("{} has bad lines: {:?}", out.display(), merged.bad_lines);
    }
    let mut seen = BTreeMap::<&str, usize>::new();
    for r in &merged.records {
        *seen.entry(&r.id).or_default() += 1;
    }
    let ids: BTreeSet<String> = seen.keys().map(|s| s.to_string()).collect();
    if ids != *expected || seen.values().any(|&n| n != 1) {
        bail!("merged ids are not 0..{count} exactly once: {seen:?}");
    }
    let mut in_shards = BTreeMap::<&str, usize>::new();
    for (file, record) in shards {
        *in_shards.entry(&record.id).or_default() += 1;
        if !merged.records.contains(record) {
            bail!(
                "record {} of {} is lost or changed in the merged file",
                record.id,
                file.display()
            );
        }
    }
    if in_shards.values().any(|&n| n != 1) {
        bail!("an id was trained twice across the shards: {in_shards:?}");
    }
    println!(
        "  merged: {} records, ids s{SEED}-000000..s{SEED}-{:06} once each, no torn line, every shard record unchanged",
        merged.records.len(),
        count - 1
    );
    Ok(merged.records)
}

/// Trains the same ids in one process with the same pinned `trainer` and compares with the
/// `merged` records (wall times aside).
fn equals_one_process_run(
    cluster: &Cluster,
    trainer: &Path,
    merged: Vec<ZooRecord>,
    count: u64,
) -> anyhow::Result<()> {
    let reference = cluster.dir.join("reference.jsonl");
    process::run(
        Command::new(trainer)
            .args([
                "zoo",
                "--protocol",
                PROTOCOL,
                "--count",
                &count.to_string(),
                "--seed",
                &SEED.to_string(),
            ])
            .args(["--threads", "1", "--jobs", "1", "--device", "cpu", "--out"])
            .arg(&reference),
    )?;
    let reference = read_zoo(&reference)?;
    let a: BTreeMap<String, ZooRecord> = merged
        .into_iter()
        .map(|r| (r.id.clone(), without_wall_time(r)))
        .collect();
    let b: BTreeMap<String, ZooRecord> = reference
        .records
        .into_iter()
        .map(|r| (r.id.clone(), without_wall_time(r)))
        .collect();
    if a != b {
        let differ: Vec<&String> = a
            .keys()
            .chain(b.keys())
            .filter(|id| a.get(*id) != b.get(*id))
            .collect();
        bail!("the merged zoo differs from a one-process run of the same ids in {differ:?}");
    }
    println!(
        "  one-process run of the same {count} ids: equal to the merged zoo as a set of records (wall_seconds aside)"
    );
    Ok(())
}

/// Entry point of `cargo xtask test-slurm`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if args.tasks < 4 {
        bail!(
            "--tasks {}: the test runs an array of at least 4 tasks",
            args.tasks
        );
    }
    if args.count < 3 * args.tasks {
        bail!("--count {}: need at least 3 networks per task", args.count);
    }
    let start = Instant::now();
    ensure_installed()?;
    setup::run_setup(&setup::Args::default_python())?;
    // A debug trainer: a release build would add many minutes to CI, and what this test
    // checks does not depend on the optimisation level. Under `cargo xtask test` it is the
    // one the test build made, so nothing compiles again.
    let trainer = match &args.trainer {
        Some(trainer) => trainer.clone(),
        None => slurm::build_peephole_train(&["--workspace", "--features", "peephole/tch"])?,
    };
    // Removed when dropped, unless kept: with --keep, or below on failure.
    let mut work = tempfile::Builder::new()
        .prefix("peephole-slurm-")
        .tempdir()
        .context("cannot create the test's work folder")?;
    work.disable_cleanup(args.keep);
    match on_cluster(work.path(), args, &trainer) {
        Ok(()) => {
            println!(
                "test-slurm passed in {:.0} s",
                start.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(error) => {
            let dir = work.keep();
            Err(error.context(format!("test-slurm failed; logs kept in {}", dir.display())))
        }
    }
}

/// Starts the one-node cluster in `dir`, runs the test on it, and stops it.
fn on_cluster(dir: &Path, args: &Args, trainer: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut cluster = Cluster::start(dir)?;
    let version = cluster.client.output("sinfo", &["-V"]).unwrap_or_default();
    println!(
        "test-slurm: {} one-node cluster on {} ({} CPUs), started in {:.1} s, folder {}",
        version.trim(),
        cluster.node,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    println!(
        "  daemons: {}",
        cluster
            .daemons
            .iter()
            .map(|d| format!("{} (pid {})", d.name, d.child.id()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let result = exercise(&cluster, args, trainer);
    for line in cluster.stop() {
        println!("  {line}");
    }
    result
}
