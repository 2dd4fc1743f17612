//! The ULC decoder (`ulc::decode_flat`, `ulc::validate`): the gate between integers from
//! outside and the predictor's embedding tables.

use std::time::Duration;

use peephole_ir::ulc::{self, ChannelRatioBin, UlcCode, UlcDecodeError};

use super::{MIB, Target};

/// See the module documentation.
pub const TARGET: Target = Target {
    name: "ulc",
    about: "ULC decoder: never panics, accepts exactly the codes the table allows, codes round-trip through JSON, channel binning stays in 1..=8",
    run,
    seeds,
    mutate: None,
    dictionary: &[
        &[1, 5, 5, 8],
        &[2, 2, 2, 4],
        &[7, 1, 1, 4],
        &[0, 0, 0, 0],
        &[8, 6, 6, 9],
    ],
    max_len: 256,
    timeout: Duration::from_secs(5),
    allocation_limit: 64 * MIB,
};

fn seeds() -> Vec<Vec<u8>> {
    vec![
        vec![1, 3, 3, 4, 7, 1, 1, 4, 4, 1, 1, 4, 2, 2, 2, 4],
        vec![1, 3, 3],
        vec![3, 5, 5, 4, 6, 1, 1, 4],
    ]
}

/// Whether the table of `shared/spec/ulc.md` holds this code, written out independently of
/// `ulc::validate` so the two can disagree.
fn in_table(code: UlcCode) -> bool {
    let kernels =
        |range: std::ops::RangeInclusive<u8>| range.contains(&code.kw) && range.contains(&code.kh);
    match code.ty {
        1 => kernels(1..=5) && (1..=8).contains(&code.ch),
        2 | 3 => kernels(2..=5) && code.ch == 4,
        4..=7 => kernels(1..=1) && code.ch == 4,
        _ => false,
    }
}

fn run(data: &[u8]) -> String {
    let table_ok = data.len().is_multiple_of(4)
        && data.chunks_exact(4).all(|c| {
            in_table(UlcCode {
                ty: c[0],
                kw: c[1],
                kh: c[2],
                ch: c[3],
            })
        });
    let outcome = match ulc::decode_flat(data) {
        Ok(codes) => {
            assert!(
                table_ok,
                "decode_flat accepts {data:?}, which the spec's table refuses"
            );
            assert_eq!(codes.len() * 4, data.len());
            let kinds = ulc::validate(&codes).expect("decoded codes validate");
            assert_eq!(kinds.len(), codes.len());
            let json = serde_json::to_string(&codes).expect("codes serialize");
            let back: Vec<UlcCode> = serde_json::from_str(&json).expect("codes deserialize");
            assert_eq!(back, codes);
            format!("ok {}", codes.len().min(2))
        }
        Err(UlcDecodeError::Ragged { len }) => {
            assert_eq!(len, data.len());
            assert_ne!(len % 4, 0, "a length of {len} is not ragged");
            "ragged".to_string()
        }
        Err(
            error @ UlcDecodeError::BadField {
                position, field, ..
            },
        ) => {
            assert!(
                !table_ok,
                "decode_flat refuses {data:?}, which the spec's table allows: {error}"
            );
            assert!(
                position < data.len() / 4,
                "{error} names a code past the end"
            );
            format!("bad {field} ty={}", data[position * 4].min(8))
        }
    };
    let mut words = data
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    if let (Some(input), Some(output)) = (words.next(), words.next()) {
        let (bin, clamped) = ChannelRatioBin::of_channels(input, output);
        assert!(
            (1..=8).contains(&bin.index()),
            "bin {} for {output}/{input}",
            bin.index()
        );
        assert!(bin.centre().is_finite());
        if input > 0 && !clamped {
            let ratio = f64::from(output) / f64::from(input);
            assert!(
                (0.25..=3.0).contains(&ratio),
                "{output}/{input} = {ratio} is not clamped"
            );
        }
    }
    outcome
}
