//! Zoo files (JSON Lines of trained networks): what the reader keeps must be usable by the
//! predictor trainer as is, and must survive being written and read again unchanged.

use std::time::Duration;

use peephole_ir::ulc::{self, ULC_VERSION};
use peephole_zoo::{ZooRecord, read_zoo_from};

use super::{MIB, Target, class};

/// See the module documentation.
pub const TARGET: Target = Target {
    name: "zoo",
    about: "zoo reader: never panics, bad lines are numbered inside the file, kept records validate, carry valid ULC codes, and round-trip through the writer's format",
    run,
    seeds,
    mutate: None,
    dictionary: &[
        b"\n",
        b"{",
        b"}",
        b"\"ulc\":[]",
        b"\"curve\":[]",
        b"null",
        b"1e308",
        b"-0.0",
        b"18446744073709551616",
        b"\"ty\":200",
        b"\"ulc_version\":\"ulc-v2\"",
        b"\"diverged\":true",
        b"\"train_loss\":[null]",
    ],
    max_len: 16 * 1024,
    timeout: Duration::from_secs(5),
    allocation_limit: 64 * MIB,
};

fn seeds() -> Vec<Vec<u8>> {
    // The committed corpus holds real records; one torn line here keeps the seed set useful
    // when the corpus folder is missing.
    vec![b"{\"id\":\"s1-000000\",\"protocol\":\"fmnist-budget-v1\"\n{\"id\"".to_vec()]
}

fn run(data: &[u8]) -> String {
    let contents = read_zoo_from(data).expect("reading memory cannot fail");
    let lines = data.split(|&b| b == b'\n').count();
    let mut previous = 0;
    for bad in &contents.bad_lines {
        assert!(
            bad.line > previous && bad.line <= lines,
            "bad line {} of {lines} (after {previous})",
            bad.line
        );
        previous = bad.line;
    }
    assert!(contents.records.len() + contents.bad_lines.len() <= lines);
    for record in &contents.records {
        if let Err(reason) = record.validate() {
            panic!(
                "the reader kept record {} that does not validate: {reason}",
                record.id
            );
        }
        if record.ulc_version == ULC_VERSION
            && let Err(error) = ulc::validate(&record.ulc)
        {
            panic!(
                "the reader kept record {} whose ULC codes the predictor cannot embed: {error}",
                record.id
            );
        }
        let line = serde_json::to_string(record).expect("a kept record serializes");
        let again = read_zoo_from(line.as_bytes()).expect("reading memory cannot fail");
        let back: Option<&ZooRecord> = again.records.first();
        assert_eq!(
            back,
            Some(record),
            "record {} changes when written and read again: {:?}",
            record.id,
            again.bad_lines
        );
    }
    let first_bad = contents
        .bad_lines
        .first()
        .map(|b| class(&b.reason))
        .unwrap_or_default();
    format!(
        "records={} bad={} {first_bad}",
        contents.records.len().min(2),
        contents.bad_lines.len().min(2)
    )
}
