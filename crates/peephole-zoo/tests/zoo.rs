//! The zoo JSON Lines format: records round-trip through the writer and reader, every bad line
//! is reported with its number while every good line is kept, a torn last line is reported
//! and the next append starts cleanly after it, and no bytes make the reader panic.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use peephole_ir::ulc;
use peephole_zoo::generator::{self, GENERATOR_VERSION, Skeleton};
use peephole_zoo::{
    self, MAX_LINE_BYTES, ZooContents, ZooError, ZooRecord, ZooWriter, finished_ids, read_zoo,
    read_zoo_from,
};
use proptest::prelude::*;

/// A valid record for generated network `index`; accuracies are multiples of 1/4000 (the
/// validation split's size) and losses short decimals, as real records hold.
fn record(index: u64) -> ZooRecord {
    let generated = generator::network_at(Skeleton::FmnistV1, 3, index);
    let codes = ulc::encode(&generated.network).unwrap().codes;
    ZooRecord {
        id: format!("s3-{index}"),
        protocol: "fmnist-budget-v1".into(),
        ulc_version: ulc::ULC_VERSION.into(),
        generator: format!("{GENERATOR_VERSION}/fmnist-v1"),
        skeleton: "fmnist-v1".into(),
        block: generated.block.to_string(),
        text: generated.network.to_string(),
        network: generated.network,
        ulc: codes,
        ulc_clamps: Vec::new(),
        seed: 1000 + index,
        curve: vec![0.5, 0.625, 0.7, 0.75, 0.8, 0.8125, 0.83475, 0.84],
        train_loss: vec![
            Some(1.5),
            Some(0.9),
            Some(0.75),
            Some(0.6),
            Some(0.55),
            Some(0.5),
            Some(0.425),
            Some(0.4),
        ],
        params: generated.params,
        macs: generated.macs,
        wall_seconds: 42.5 + index as f64,
        device: "cpu".into(),
        diverged: false,
        tool_version: "0.1.0".into(),
    }
}

/// A few records, built once (each needs a generated network).
fn records() -> &'static [ZooRecord] {
    static RECORDS: OnceLock<Vec<ZooRecord>> = OnceLock::new();
    RECORDS.get_or_init(|| (0..6).map(record).collect())
}

fn json(record: &ZooRecord) -> String {
    serde_json::to_string(record).unwrap()
}

fn read(path: &Path) -> ZooContents {
    read_zoo(path).unwrap()
}

fn bad_line_numbers(contents: &ZooContents) -> Vec<usize> {
    contents.bad_lines.iter().map(|b| b.line).collect()
}

#[test]
fn records_written_by_the_writer_read_back_equal_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zoo.jsonl");
    let mut writer = ZooWriter::append(&path).unwrap();
    assert_eq!(writer.path(), path);
    let mut diverged = record(9);
    diverged.id = "diverged".into();
    diverged.diverged = true;
    diverged.curve = vec![0.55, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
    diverged.train_loss = vec![Some(2.25), None, None, None, None, None, None, None];
    diverged.device = "cuda:0 — ü".into();
    let written = vec![records()[0].clone(), records()[1].clone(), diverged];
    for r in &written {
        writer.write(r).unwrap();
    }
    drop(writer);
    let contents = read(&path);
    assert_eq!(contents.records, written);
    assert!(contents.bad_lines.is_empty(), "{:?}", contents.bad_lines);
    assert_eq!(contents.records[2].final_accuracy(), Some(0.1));
    // One line per record, each ending in a newline.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.ends_with('\n'));
}

#[test]
fn reopening_a_clean_file_appends_without_a_blank_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zoo.jsonl");
    ZooWriter::append(&path)
        .unwrap()
        .write(&records()[0])
        .unwrap();
    ZooWriter::append(&path)
        .unwrap()
        .write(&records()[1])
        .unwrap();
    let bytes = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        bytes,
        format!("{}\n{}\n", json(&records()[0]), json(&records()[1]))
    );
}

#[test]
fn append_creates_missing_parent_folders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/zoo.jsonl");
    ZooWriter::append(&path)
        .unwrap()
        .write(&records()[0])
        .unwrap();
    assert_eq!(read(&path).records, vec![records()[0].clone()]);
}

#[test]
fn bad_lines_are_reported_with_their_numbers_and_every_good_line_is_kept() {
    let [a, b, c, d, ..] = records() else {
        unreachable!()
    };
    let mut out_of_range = a.clone();
    out_of_range.curve[2] = 1.5;
    let mut no_id = a.clone();
    no_id.id = String::new();
    let mut lines: Vec<Vec<u8>> = vec![
        json(a).into_bytes(),                         // 1
        b"garbage".to_vec(),                          // 2
        br#"{"id": "s3-0"}"#.to_vec(),                // 3: wrong schema
        json(b).into_bytes(),                         // 4
        json(&out_of_range).into_bytes(),             // 5: curve value > 1
        b"".to_vec(),                                 // 6: blank, skipped silently
        vec![b'{'; MAX_LINE_BYTES + 10],              // 7: overlong
        json(c).into_bytes(),                         // 8
        vec![0xff, 0xfe, b'{'],                       // 9: not UTF-8
        json(&no_id).into_bytes(),                    // 10
        br#"{"id": "s3-1", "protocol": 3}"#.to_vec(), // 11: wrong types
        json(d).into_bytes(),                         // 12
    ];
    // A trailing newline: nothing is torn.
    lines.push(vec![]);
    let bytes = lines.join(&b'\n');
    let contents = read_zoo_from(bytes.as_slice()).unwrap();
    assert_eq!(
        contents.records,
        vec![a.clone(), b.clone(), c.clone(), d.clone()]
    );
    assert_eq!(bad_line_numbers(&contents), vec![2, 3, 5, 7, 9, 10, 11]);
    let reason = |line| {
        contents
            .bad_lines
            .iter()
            .find(|b| b.line == line)
            .unwrap()
            .reason
            .clone()
    };
    assert!(reason(2).starts_with("not a zoo record"), "{}", reason(2));
    assert!(reason(3).starts_with("not a zoo record"), "{}", reason(3));
    assert!(reason(5).contains("curve[2] = 1.5"), "{}", reason(5));
    assert!(
        reason(7).contains(&format!("longer than {MAX_LINE_BYTES}")),
        "{}",
        reason(7)
    );
    assert!(reason(9).contains("not UTF-8"), "{}", reason(9));
    assert!(reason(10).contains("empty id"), "{}", reason(10));
    assert!(
        contents
            .bad_lines
            .iter()
            .all(|b| !b.reason.contains("torn"))
    );
    assert_eq!(
        contents.bad_lines[0].to_string(),
        format!("line 2: {}", reason(2))
    );
}

#[test]
fn a_line_of_exactly_the_limit_is_read_and_one_byte_more_is_overlong() {
    let at_limit = vec![b'x'; MAX_LINE_BYTES];
    let over = vec![b'x'; MAX_LINE_BYTES + 1];
    let far_over = vec![b'x'; 3 * MAX_LINE_BYTES + 7];
    let good = json(&records()[0]).into_bytes();
    let bytes = [
        &at_limit[..],
        b"\n",
        &over,
        b"\n",
        &good,
        b"\n",
        &far_over,
        b"\n",
        &good,
        b"\n",
        &over, // at the end, without a newline
    ]
    .concat();
    let contents = read_zoo_from(bytes.as_slice()).unwrap();
    assert_eq!(contents.records.len(), 2);
    assert_eq!(bad_line_numbers(&contents), vec![1, 2, 4, 6]);
    assert!(contents.bad_lines[0].reason.starts_with("not a zoo record"));
    for bad in &contents.bad_lines[1..] {
        assert!(bad.reason.starts_with("longer than"), "{bad}");
    }
}

#[test]
fn every_record_invariant_is_checked_by_the_reader_and_refused_by_the_writer() {
    let base = records()[0].clone();
    let broken: Vec<(ZooRecord, &str)> = vec![
        (
            ZooRecord {
                id: String::new(),
                ..base.clone()
            },
            "empty id",
        ),
        (
            ZooRecord {
                curve: vec![],
                train_loss: vec![],
                ..base.clone()
            },
            "empty curve",
        ),
        (
            ZooRecord {
                curve: vec![0.5, -0.25],
                train_loss: vec![None, None],
                ..base.clone()
            },
            "curve[1] = -0.25",
        ),
        (
            ZooRecord {
                curve: vec![1.0, 1.0000001],
                train_loss: vec![None, None],
                ..base.clone()
            },
            "curve[1] = 1.0000001",
        ),
        (
            ZooRecord {
                train_loss: vec![Some(1.0)],
                ..base.clone()
            },
            "1 training losses for 8",
        ),
        (
            ZooRecord {
                ulc: base.ulc[1..].to_vec(),
                ..base.clone()
            },
            "ULC codes for",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zoo.jsonl");
    let mut writer = ZooWriter::append(&path).unwrap();
    for (record, reason) in &broken {
        match record.validate() {
            Err(got) => assert!(
                got.to_string().contains(reason),
                "{got} should say {reason}"
            ),
            Ok(()) => panic!("{reason}: accepted"),
        }
        // The writer refuses it...
        assert!(
            matches!(writer.write(record), Err(ZooError::Unwritable { .. })),
            "{reason}"
        );
        // ... and the reader reports it when it got in another way.
        let line = format!("{}\n", json(record));
        let contents = read_zoo_from(line.as_bytes()).unwrap();
        assert!(contents.records.is_empty(), "{reason}");
        assert_eq!(bad_line_numbers(&contents), vec![1], "{reason}");
    }
    // Curve ends 0 and 1 are accuracies.
    let ends = ZooRecord {
        curve: vec![0.0, 1.0],
        train_loss: vec![None, None],
        ..base
    };
    assert_eq!(ends.validate(), Ok(()));
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        0,
        "a refused record was written"
    );
}

#[test]
fn the_writer_refuses_a_non_finite_wall_time_that_would_make_an_unreadable_line() {
    // serde_json writes NaN and infinities as `null`, which the reader cannot take back.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zoo.jsonl");
    let mut writer = ZooWriter::append(&path).unwrap();
    for wall_seconds in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let record = ZooRecord {
            wall_seconds,
            ..records()[0].clone()
        };
        assert!(record.validate().is_err(), "{wall_seconds}");
        assert!(matches!(
            writer.write(&record),
            Err(ZooError::Unwritable { .. })
        ));
    }
    writer.write(&records()[0]).unwrap();
    let contents = read(&path);
    assert_eq!(contents.records, vec![records()[0].clone()]);
    assert!(contents.bad_lines.is_empty());
}

#[test]
fn a_torn_last_line_is_reported_as_torn_and_the_next_append_writes_a_readable_record_after_it() {
    let [a, b, c, d, ..] = records() else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zoo.jsonl");
    let mut writer = ZooWriter::append(&path).unwrap();
    writer.write(a).unwrap();
    writer.write(b).unwrap();
    drop(writer);
    // A crash half-way through the third record.
    let half = json(c);
    let half = &half[..half.len() / 2];
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(half.as_bytes())
        .unwrap();

    let contents = read(&path);
    assert_eq!(contents.records, vec![a.clone(), b.clone()]);
    assert_eq!(bad_line_numbers(&contents), vec![3]);
    assert!(
        contents.bad_lines[0].reason.contains("torn"),
        "{}",
        contents.bad_lines[0]
    );

    // The next run appends: its record lands on a line of its own.
    ZooWriter::append(&path).unwrap().write(d).unwrap();
    let contents = read(&path);
    assert_eq!(contents.records, vec![a.clone(), b.clone(), d.clone()]);
    assert_eq!(bad_line_numbers(&contents), vec![3]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{}\n{}\n{half}\n{}\n", json(a), json(b), json(d))
    );
    let ids = finished_ids(&path).unwrap();
    let expected: HashSet<String> = [&a.id, &b.id, &d.id].into_iter().cloned().collect();
    assert_eq!(ids, expected);
}

#[test]
fn a_line_torn_inside_a_multibyte_character_is_still_reported_as_torn() {
    let mut record = records()[0].clone();
    record.device = "ü".repeat(64);
    let line = json(&record);
    let start = line.find('ü').unwrap();
    // Cut after the first byte of the 10th `ü`.
    let cut = &line.as_bytes()[..start + 2 * 9 + 1];
    let contents = read_zoo_from(cut).unwrap();
    assert_eq!(bad_line_numbers(&contents), vec![1]);
    assert!(
        contents.bad_lines[0].reason.contains("torn"),
        "{}",
        contents.bad_lines[0]
    );
}

#[test]
fn a_complete_record_missing_only_its_newline_is_kept_and_the_next_append_starts_a_new_line() {
    let [a, b, ..] = records() else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zoo.jsonl");
    std::fs::write(&path, json(a)).unwrap();
    assert_eq!(read(&path).records, vec![a.clone()]);
    ZooWriter::append(&path).unwrap().write(b).unwrap();
    let contents = read(&path);
    assert_eq!(contents.records, vec![a.clone(), b.clone()]);
    assert!(contents.bad_lines.is_empty());
}

#[test]
fn finished_ids_are_the_good_records_ids_and_none_for_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zoo.jsonl");
    assert_eq!(finished_ids(&path).unwrap(), HashSet::new());
    let mut bad = records()[2].clone();
    bad.curve[0] = 2.0;
    let text = format!(
        "{}\nnot json\n{}\n{}\n",
        json(&records()[0]),
        json(&bad),
        json(&records()[1])
    );
    std::fs::write(&path, text).unwrap();
    let ids = finished_ids(&path).unwrap();
    let expected: HashSet<String> = ["s3-0".to_string(), "s3-1".to_string()].into();
    assert_eq!(ids, expected);
}

#[test]
fn reading_a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.jsonl");
    match peephole_zoo::read_zoo(&path) {
        Err(error @ ZooError::Io { .. }) => {
            assert!(error.to_string().contains("absent.jsonl"), "{error}")
        }
        other => panic!("{other:?}"),
    }
}

/// One line of a generated zoo file.
#[derive(Debug, Clone)]
enum Line {
    Good(usize),
    Garbage(String),
    Blank(String),
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        4 => (0usize..6).prop_map(Line::Good),
        2 => "[a-z{}\\[\\]\":,0-9é][^\n\r]{0,40}".prop_map(Line::Garbage),
        1 => "[ \t\r]{0,3}".prop_map(Line::Blank),
    ]
}

proptest! {
    #[test]
    fn reading_any_bytes_never_panics_and_line_numbers_stay_in_the_file(
        bytes in proptest::collection::vec(
            prop_oneof![4 => any::<u8>(), 1 => Just(b'\n'), 1 => Just(b'{')],
            0..2048,
        )
    ) {
        let contents = read_zoo_from(bytes.as_slice()).unwrap();
        let lines = bytes.split(|&b| b == b'\n').count() - usize::from(bytes.ends_with(b"\n"));
        let numbers = bad_line_numbers(&contents);
        prop_assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{:?}", numbers);
        prop_assert!(numbers.iter().all(|&n| n >= 1 && n <= lines.max(1)), "{:?} of {}", numbers, lines);
        prop_assert!(contents.records.len() + numbers.len() <= lines);
    }

    #[test]
    fn in_any_mix_of_lines_every_good_record_is_kept_and_every_bad_line_reported(
        mix in proptest::collection::vec(line(), 0..24),
        trailing_newline in any::<bool>(),
    ) {
        let text: Vec<String> = mix
            .iter()
            .map(|l| match l {
                Line::Good(i) => json(&records()[*i]),
                Line::Garbage(g) => g.clone(),
                Line::Blank(b) => b.clone(),
            })
            .collect();
        let mut text = text.join("\n");
        if trailing_newline && !mix.is_empty() {
            text.push('\n');
        }
        let contents = read_zoo_from(text.as_bytes()).unwrap();
        let good: Vec<ZooRecord> = mix
            .iter()
            .filter_map(|l| match l {
                Line::Good(i) => Some(records()[*i].clone()),
                _ => None,
            })
            .collect();
        prop_assert_eq!(&contents.records, &good);
        let garbage: Vec<usize> = mix
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l, Line::Garbage(_)))
            .map(|(i, _)| i + 1)
            .collect();
        prop_assert_eq!(bad_line_numbers(&contents), garbage.clone());
        // Only the last line can be torn, and only without a trailing newline.
        for bad in &contents.bad_lines {
            let torn = !trailing_newline && bad.line == mix.len();
            prop_assert_eq!(bad.reason.contains("torn"), torn, "{}", bad);
        }
    }
}

// Every outside file goes through the bounded reader; a device would never end.
#[cfg(unix)]
#[test]
fn a_device_as_zoo_file_is_an_io_error_naming_it_not_an_endless_read() {
    let error = peephole_zoo::read_zoo(std::path::Path::new("/dev/zero")).expect_err("a device");
    assert_eq!(
        error.to_string(),
        "zoo file /dev/zero: is a character device, not a regular file"
    );
}
