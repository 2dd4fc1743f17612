//! `cargo xtask setup`: makes a fresh machine ready to train and test, and does nothing when
//! it already is.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::cargo::root;
use crate::process;

/// The PyTorch release whose libtorch tch 0.24.0 binds.
pub const TORCH_VERSION: &str = "2.11.0";
/// The onnxruntime release whose API ort 2.0.0-rc.15 (api-31) loads.
pub const ONNXRUNTIME_VERSION: &str = "1.31.1";
/// scikit-learn in the venv: its NuSVR (libsvm) is the reference our nu-SVR baseline is
/// tested against (`peephole-eval`'s `nusvr_sklearn` test).
pub const SCIKIT_LEARN_VERSION: &str = "1.7.2";
/// Debian's package with the four Fashion-MNIST IDX files.
pub const DATASET_PACKAGE: &str = "dataset-fashion-mnist";
/// Where Debian's package puts them.
pub const SYSTEM_DATASET_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// The four files.
const DATASET_FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// Options of `setup`.
#[derive(clap::Args)]
pub struct Args {
    /// Python to create the venv with.
    #[arg(long, default_value = "python3")]
    python: String,
}

impl Args {
    /// The defaults, for commands that set up before their own work.
    pub fn default_python() -> Self {
        Args {
            python: "python3".into(),
        }
    }
}

/// The repository's venv.
pub fn venv() -> PathBuf {
    root().join(".venv")
}

/// Where setup puts the dataset when it cannot install Debian's package system-wide;
/// `.cargo/config.toml` points PEEPHOLE_DATA_DIR there.
pub fn local_dataset_dir() -> PathBuf {
    venv().join("datasets/fashion-mnist")
}

/// The onnxruntime shared library inside the venv, if installed.
pub fn onnxruntime_library() -> Option<PathBuf> {
    let lib = venv().join("lib");
    std::fs::read_dir(&lib).ok()?.flatten().find_map(|entry| {
        let capi = entry.path().join("site-packages/onnxruntime/capi");
        std::fs::read_dir(capi)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("libonnxruntime.so"))
            })
    })
}

fn python_has(python: &Path, module: &str, version: &str) -> bool {
    process::succeeds(Command::new(python).args(["-c", &format!("import {module}, sys; sys.exit(0 if {module}.__version__.split('+')[0] == '{version}' else 1)")]))
}

fn setup_venv(args: &Args) -> anyhow::Result<()> {
    let venv = venv();
    let python = venv.join("bin/python");
    if !python.exists() {
        process::run(Command::new(&args.python).args(["-m", "venv"]).arg(&venv))
            .context("creating the Python venv (is python3 with the venv module installed?)")?;
    }
    let mut wanted = Vec::new();
    if !python_has(&python, "torch", TORCH_VERSION) {
        wanted.push(format!("torch=={TORCH_VERSION}"));
    }
    if !python_has(&python, "onnxruntime", ONNXRUNTIME_VERSION) {
        wanted.push(format!("onnxruntime=={ONNXRUNTIME_VERSION}"));
    }
    if !python_has(&python, "sklearn", SCIKIT_LEARN_VERSION) {
        wanted.push(format!("scikit-learn=={SCIKIT_LEARN_VERSION}"));
    }
    if !wanted.is_empty() {
        eprintln!(
            "installing {} into {} (torch is a large download, once)",
            wanted.join(" "),
            venv.display()
        );
        process::run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(&wanted),
        )?;
    }
    let output = process::read(Command::new(&python).args([
        "-c",
        "import torch, os; print(os.path.dirname(torch.__file__))",
    ]))
    .context("the venv's torch does not import")?;
    let torch_dir = PathBuf::from(output.stdout.trim());
    link(&torch_dir, &venv.join("libtorch"))?;
    let ort = onnxruntime_library()
        .context("onnxruntime is installed but its shared library is missing")?;
    link(&ort, &venv.join("libonnxruntime.so"))?;
    eprintln!(
        "venv ready: torch {TORCH_VERSION} ({}), onnxruntime {ONNXRUNTIME_VERSION}, scikit-learn {SCIKIT_LEARN_VERSION}",
        torch_dir.display()
    );
    Ok(())
}

fn link(target: &Path, link: &Path) -> anyhow::Result<()> {
    if std::fs::read_link(link).is_ok_and(|t| t == target) {
        return Ok(());
    }
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("linking {} -> {}", link.display(), target.display()))
}

fn has_dataset(dir: &Path) -> bool {
    DATASET_FILES.iter().all(|f| dir.join(f).exists())
}

/// Whether xtask runs as root (and may install Debian packages).
pub fn is_root() -> bool {
    process::output(Command::new("id").arg("-u")).is_ok_and(|o| o.stdout.trim() == "0")
}

fn setup_dataset() -> anyhow::Result<()> {
    let local = local_dataset_dir();
    if let Some(dir) = std::env::var_os("PEEPHOLE_DATA_DIR")
        .map(PathBuf::from)
        .filter(|d| has_dataset(d))
    {
        eprintln!("Fashion-MNIST found in {}", dir.display());
        return Ok(());
    }
    for dir in [PathBuf::from(SYSTEM_DATASET_DIR), local.clone()] {
        if has_dataset(&dir) {
            eprintln!("Fashion-MNIST found in {}", dir.display());
            return Ok(());
        }
    }
    if is_root() {
        process::run(Command::new("apt-get").args(["update", "-qq"]))?;
        process::run(
            Command::new("apt-get")
                .args(["install", "-y", "-qq", DATASET_PACKAGE])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    } else {
        // Without root: fetch the .deb and unpack it into the venv.
        let work = venv().join("datasets/deb");
        std::fs::create_dir_all(&work)?;
        process::run(
            Command::new("apt-get")
                .args(["download", DATASET_PACKAGE])
                .current_dir(&work),
        )?;
        let deb = std::fs::read_dir(&work)?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .context("apt-get download left no .deb")?;
        let unpacked = work.join("root");
        process::run(Command::new("dpkg").arg("-x").arg(&deb).arg(&unpacked))?;
        let source = unpacked.join(SYSTEM_DATASET_DIR.trim_start_matches('/'));
        std::fs::create_dir_all(&local)?;
        for file in DATASET_FILES {
            std::fs::copy(source.join(file), local.join(file))
                .with_context(|| format!("copying {file}"))?;
        }
    }
    if has_dataset(Path::new(SYSTEM_DATASET_DIR)) || has_dataset(&local) {
        eprintln!("Fashion-MNIST installed");
        Ok(())
    } else {
        bail!("installing {DATASET_PACKAGE} did not produce the four IDX files")
    }
}

/// The cargo-machete release the test command runs: it finds dependencies a crate declares
/// but never names (each one is compile time for every build, and for the lint's, every
/// user's).
pub const CARGO_MACHETE_VERSION: &str = "0.9.2";

/// Installs cargo-machete at [`CARGO_MACHETE_VERSION`] unless that version is on the PATH
/// (`cargo install --locked`: about three minutes, once).
pub fn ensure_cargo_machete() -> anyhow::Result<()> {
    let installed = process::output(Command::new("cargo-machete").arg("--version"))
        .is_ok_and(|o| o.stdout.contains(CARGO_MACHETE_VERSION));
    if installed {
        return Ok(());
    }
    process::run(Command::new("cargo").args([
        "install",
        "--locked",
        "--version",
        CARGO_MACHETE_VERSION,
        "cargo-machete",
    ]))
    .context("installing cargo-machete")
}

/// Runs every set-up step.
pub fn run_setup(args: &Args) -> anyhow::Result<()> {
    setup_venv(args)?;
    setup_dataset()
}

/// Entry point of `cargo xtask setup`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    run_setup(args)
}
