//! `cargo xtask test`: README's test command. Checks the formatting and the generated tables of
//! README and the book, sets up a fresh machine, fails on unused dependencies (cargo-machete),
//! runs clippy, then runs every test.

use crate::cargo::cargo;
use crate::process;
use crate::setup;
use crate::slurm;

/// Options of `test`.
#[derive(clap::Args)]
pub struct Args {
    /// Skip the set-up step (when you know the machine is ready).
    #[arg(long)]
    no_setup: bool,
    /// Skip the one-node Slurm test (`cargo xtask test-slurm`), which needs root.
    #[arg(long)]
    no_slurm: bool,
    /// Skip `cargo fmt --all --check` (run first: seconds, and a diff is the cheapest failure).
    #[arg(long)]
    no_fmt: bool,
    /// Skip `cargo machete` (installed by the set-up), which fails on a dependency a crate
    /// declares and never uses.
    #[arg(long)]
    no_machete: bool,
    /// Skip `cargo xtask book --check` (run second: it reads committed files, no build).
    #[arg(long)]
    no_book: bool,
    /// Skip `cargo clippy --workspace --all-targets -- -D warnings` (run after the set-up,
    /// with the tests' features and build folder: a check pass, not a second build).
    #[arg(long)]
    no_clippy: bool,
    /// Extra arguments for `cargo test` (after `--`).
    #[arg(last = true)]
    rest: Vec<String>,
}

/// Entry point of `cargo xtask test`.
pub fn run_tests(args: &Args) -> anyhow::Result<()> {
    if !args.no_fmt {
        process::run(cargo().args(["fmt", "--all", "--check"]))?;
    }
    if !args.no_book {
        crate::book::check()?;
    }
    if !args.no_setup {
        setup::run_setup(&setup::Args::default_python())?;
        if !args.no_machete {
            setup::ensure_cargo_machete()?;
        }
    }
    // Seconds: the documented formats are the parsers' (builds xtask only).
    crate::schema::run(&crate::schema::Args { check: true })?;
    if !args.no_machete {
        // The binary itself: under `cargo run` (how xtask runs) `cargo machete` reads the
        // subcommand's own name as a path.
        process::run(
            std::process::Command::new("cargo-machete")
                .arg("--skip-target-dir")
                .arg(crate::cargo::root()),
        )?;
    }
    // The facade's `tch` feature is off for users of the lint (it must never need libtorch);
    // turning it on here lets its training test run in the same build, with the same
    // feature set as the rest (a separate `-p peephole` run would compile tract again). The
    // facade sets no rpath, so its test finds the venv's libtorch the way a tch user's
    // binary would: through `LD_LIBRARY_PATH`.
    let libtorch = setup::venv().join("libtorch/lib");
    let mut library_path = std::ffi::OsString::from(&libtorch);
    if let Some(existing) = std::env::var_os("LD_LIBRARY_PATH") {
        library_path.push(":");
        library_path.push(existing);
    }
    // xtask's `ort` feature adds the benchmark's onnxruntime backend and its tests.
    let packages = ["--workspace", "--features", "peephole/tch,xtask/ort"];
    if !args.no_clippy {
        // After the set-up: build scripts run under clippy too, and tch's needs libtorch.
        // The same packages, features and environment as the tests, so that the build
        // scripts and proc macros built here are the ones `cargo test` reuses.
        process::run(
            cargo()
                .arg("clippy")
                .args(packages)
                .arg("--all-targets")
                .env("LD_LIBRARY_PATH", &library_path)
                .args(["--", "-D", "warnings"]),
        )?;
    }
    process::run(
        cargo()
            .arg("test")
            .args(packages)
            .env("LD_LIBRARY_PATH", &library_path)
            .args(&args.rest),
    )?;
    if args.no_slurm {
        return Ok(());
    }
    let trainer =
        slurm::trainer_of_test_build(&packages, &[("LD_LIBRARY_PATH", library_path.as_os_str())])?;
    let mut slurm_args = crate::test_slurm::Args::default();
    slurm_args.trainer = Some(trainer);
    crate::test_slurm::run(&slurm_args)
}

/// Entry point of `cargo xtask test`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    run_tests(args)
}
