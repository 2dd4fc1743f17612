//! `cargo peephole check` over a directory tree an attacker wrote: the input is a
//! recipe for a tree of Rust files, subdirectories, FIFOs, symbolic links out of the tree (to
//! a secret file, a directory of secrets, `/dev/zero`), link loops, dangling links and
//! non-UTF-8 files, with hostile names (control, escape and bidi characters). The check must
//! finish, never print the secret, never leave a raw control or bidi character in its output,
//! and say something about every entry it could not read.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{MIB, Target};

/// See the module documentation.
pub const TARGET: Target = Target {
    name: "tree",
    about: "cargo peephole check over a generated tree (symlinks out and in, loops, /dev/zero, FIFOs, non-UTF-8 files, hostile names): finishes, never prints what lies outside, escapes what it echoes",
    run,
    seeds,
    mutate: None,
    dictionary: &[
        b"peephole::network! { struct A: [16, 8, 8] -> 10 { conv(3, 16), tanh, relu } }\n",
        b"peephole::network! { struct B: [1, 28, 28] -> 10 { conv(16, 3), relu, maxpool(2) } }\n",
        b"\x1b[31m",
        b"\xe2\x80\xae",
        b"\n",
        b"\x00",
        b"\xff\xfe",
    ],
    max_len: 4 * 1024,
    timeout: Duration::from_secs(20),
    allocation_limit: 256 * MIB,
};

/// Marks the contents of files outside the checked tree; it must never reach the output.
const SECRET: &str = "SECRET-0b5e7c";

/// What one entry of a recipe makes, chosen by a byte modulo the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// A `.rs` file holding the entry's bytes.
    Source,
    /// A subdirectory; later entries go inside it (at most four deep).
    Enter,
    /// Back to the parent directory.
    Leave,
    /// A `.rs` link to a file outside the tree holding the secret.
    LinkToSecretFile,
    /// A link to a directory outside the tree whose `.rs` file holds the secret.
    LinkToSecretDir,
    /// A `.rs` link to `/dev/zero`, which has no end.
    LinkToDevZero,
    /// A `.rs` FIFO, which blocks a plain open for reading.
    Fifo,
    /// A link to the tree's root, which a walk that follows links goes round forever.
    LinkLoop,
    /// A `.rs` link to nothing.
    Dangling,
    /// A `.rs` link to a source inside the tree, which must be checked.
    LinkInside,
}

const ENTRIES: [Entry; 10] = [
    Entry::Source,
    Entry::Enter,
    Entry::Leave,
    Entry::LinkToSecretFile,
    Entry::LinkToSecretDir,
    Entry::LinkToDevZero,
    Entry::Fifo,
    Entry::LinkLoop,
    Entry::Dangling,
    Entry::LinkInside,
];

fn seeds() -> Vec<Vec<u8>> {
    // One of each entry with a short name, then a source with a network that warns.
    let mut every = Vec::new();
    for (kind, name) in (0..ENTRIES.len() as u8).zip(b'a'..) {
        every.extend([kind, 1, name, 0]);
    }
    let network =
        b"peephole::network! { struct A: [16, 8, 8] -> 10 { conv(3, 16), tanh, relu } }\n";
    every.extend([0, 2, b'z', b'z', network.len() as u8]);
    every.extend_from_slice(network);
    // Hostile names: an escape sequence and a bidi override inside the tree's file names.
    let mut names = vec![
        0, 6, 0x1b, b'[', b'3', b'1', b'm', b'x', 3, b'f', b'n', b' ',
    ];
    names.extend([3, 4, 0xe2, 0x80, 0xae, b'y', 0]);
    vec![every, names]
}

/// Reads a recipe: `kind, name length, name bytes, content length, content bytes` repeated,
/// lengths capped so one input stays a small tree.
struct Recipe<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Recipe<'a> {
    fn byte(&mut self) -> Option<u8> {
        let byte = *self.data.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    fn bytes(&mut self, len: usize) -> &'a [u8] {
        let end = (self.at + len).min(self.data.len());
        let slice = &self.data[self.at..end];
        self.at = end;
        slice
    }
}

/// A file name from input bytes: what a Unix file name may hold (no `/`, no NUL), never `.`
/// or `..`, never empty.
fn file_name(raw: &[u8], index: usize) -> Vec<u8> {
    let mut name: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|&b| b != b'/' && b != 0)
        .take(24)
        .collect();
    if name.is_empty() || name == b"." || name == b".." {
        name = format!("e{index}").into_bytes();
    }
    name
}

fn os_path(dir: &Path, name: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    dir.join(std::ffi::OsStr::from_bytes(name))
}

fn with_rs(mut name: Vec<u8>) -> Vec<u8> {
    name.extend_from_slice(b".rs");
    name
}

/// A fresh directory under the system's temp folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "peephole-fuzz-tree-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("the temp folder is writable");
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds the tree the recipe describes under `root`, next to `outside` (the secrets). Returns
/// how many `.rs` entries the check cannot read (links out, devices, FIFOs, dangling links,
/// non-UTF-8 sources), each of which it must report. Links to directories (out of the tree,
/// or back to its root) are not sources: the check must not follow them, and need not
/// report them.
fn build(data: &[u8], root: &Path, outside: &Path) -> usize {
    let mut recipe = Recipe { data, at: 0 };
    let mut dir = root.to_path_buf();
    let mut depth = 0;
    let mut unreadable = 0;
    let mut sources: Vec<PathBuf> = Vec::new();
    let mut index = 0;
    while let Some(kind) = recipe.byte() {
        index += 1;
        if index > 48 {
            break;
        }
        let entry = ENTRIES[kind as usize % ENTRIES.len()];
        let name_len = recipe.byte().unwrap_or(0) as usize % 25;
        let name = file_name(recipe.bytes(name_len), index);
        let content_len = recipe.byte().unwrap_or(0) as usize * 4;
        let content = recipe.bytes(content_len);
        let path = os_path(&dir, &name);
        let rs = os_path(&dir, &with_rs(name.clone()));
        if rs.exists()
            || path.exists()
            || std::fs::symlink_metadata(&rs).is_ok()
            || std::fs::symlink_metadata(&path).is_ok()
        {
            continue;
        }
        let made = match entry {
            Entry::Source => {
                let made = std::fs::write(&rs, content).is_ok();
                if made && std::str::from_utf8(content).is_err() {
                    unreadable += 1;
                }
                if made {
                    sources.push(rs.clone());
                }
                made
            }
            Entry::Enter if depth < 4 => {
                let made = std::fs::create_dir(&path).is_ok();
                if made {
                    dir = path;
                    depth += 1;
                }
                made
            }
            Entry::Enter => false,
            Entry::Leave => {
                if depth > 0 {
                    dir.pop();
                    depth -= 1;
                }
                true
            }
            Entry::LinkToSecretFile => symlink(outside.join("passwd"), &rs).is_ok(),
            Entry::LinkToSecretDir => symlink(outside.join("secrets"), &path).is_ok(),
            Entry::LinkToDevZero => symlink("/dev/zero", &rs).is_ok(),
            Entry::Fifo => std::process::Command::new("mkfifo")
                .arg(&rs)
                .status()
                .is_ok_and(|status| status.success()),
            Entry::LinkLoop => symlink(root, &path).is_ok(),
            Entry::Dangling => symlink(outside.join("no-such-file"), &rs).is_ok(),
            Entry::LinkInside => match sources.last() {
                Some(target) => symlink(target, &rs).is_ok(),
                None => false,
            },
        };
        if made
            && matches!(
                entry,
                Entry::LinkToSecretFile | Entry::LinkToDevZero | Entry::Fifo | Entry::Dangling
            )
        {
            unreadable += 1;
        }
    }
    unreadable
}

/// A character that must not reach a terminal raw: controls other than the newline and the
/// tab (source lines hold tabs; they cannot forge a line), and the bidi marks, embeddings,
/// overrides and isolates that reorder what a reader sees.
fn unsafe_on_a_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn run(data: &[u8]) -> String {
    let scratch = Scratch::new();
    let outside = scratch.0.join("outside");
    let root = scratch.0.join("tree");
    std::fs::create_dir_all(outside.join("secrets")).expect("temp folder");
    std::fs::create_dir_all(&root).expect("temp folder");
    let secret_line = format!("root:{SECRET}:0:0::/root:/bin/sh\n");
    std::fs::write(outside.join("passwd"), &secret_line).expect("temp file");
    std::fs::write(outside.join("secrets/lib.rs"), &secret_line).expect("temp file");
    let unreadable = build(data, &root, &outside);

    let mut out = Vec::new();
    let outcome = match cargo_peephole::check::run(
        &root,
        None,
        cargo_peephole::render::Style::Plain,
        &mut out,
    ) {
        Ok(outcome) => outcome,
        Err(error) => panic!("check failed on a readable directory: {error}"),
    };
    let text = String::from_utf8(out)
        .unwrap_or_else(|e| panic!("check printed bytes that are not UTF-8: {e}"));
    assert!(
        !text.contains(SECRET),
        "check printed what lies outside the tree:\n{text}"
    );
    if let Some(bad) = text.chars().find(|&c| unsafe_on_a_terminal(c)) {
        panic!("check printed {bad:?} raw:\n{text}");
    }
    assert!(
        outcome.errors >= unreadable,
        "{unreadable} entries cannot be read, but check reported {} errors:\n{text}",
        outcome.errors
    );
    format!("files={} {}", outcome.files.min(3), error_kinds(&text))
}

/// The kinds of errors `check` printed, sorted and without repeats: few outcome classes, each
/// a different path through the walk (file names and paths left out).
fn error_kinds(text: &str) -> String {
    const KINDS: [(&str, &str); 7] = [
        ("symbolic link", "link-out"),
        ("FIFO", "fifo"),
        ("device", "device"),
        ("UTF-8", "not-utf8"),
        ("cannot parse", "parse"),
        ("No such file", "missing"),
        ("cannot read", "unreadable"),
    ];
    let mut kinds: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("error: ") && !line.starts_with("error: aborting"))
        .map(|line| {
            KINDS
                .iter()
                .find(|(needle, _)| line.contains(needle))
                .map_or("other", |(_, kind)| kind)
        })
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds.join(",")
}
