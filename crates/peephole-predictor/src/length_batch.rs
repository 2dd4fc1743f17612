//! Items grouped by sequence length: the exported predictor graph takes unpadded sequences
//! (`codes` is `[batch, length, 4]`), so every runtime that runs the graph (tract here,
//! onnxruntime in `bench predict`) makes one call per length. A leaf module, so each runtime
//! groups the same way and lays out the same inputs (`layer_features` too, for a format-v2
//! graph).

use std::collections::BTreeMap;

use peephole_ir::layer_features::FeatureRow;
use peephole_ir::ulc::UlcCode;

/// The items of one call: those whose sequences have `length` layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LengthBatch {
    /// The sequence length they share.
    pub length: usize,
    /// Their indices among the caller's items, in input order, so that answers go back to
    /// where they were asked.
    pub members: Vec<usize>,
}

/// Groups `(sequence, epoch)` items by sequence length, shortest length first.
pub fn length_batches(items: &[(&[UlcCode], u32)]) -> Vec<LengthBatch> {
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (index, (codes, _)) in items.iter().enumerate() {
        groups.entry(codes.len()).or_default().push(index);
    }
    groups
        .into_iter()
        .map(|(length, members)| LengthBatch { length, members })
        .collect()
}

impl LengthBatch {
    /// The graph's `codes` input for this batch: `[members, length, 4]` in row-major order.
    pub fn codes(&self, items: &[(&[UlcCode], u32)]) -> Vec<i64> {
        self.members
            .iter()
            .flat_map(|&i| items[i].0.iter().flat_map(|c| c.fields()).map(i64::from))
            .collect()
    }

    /// The graph's `epoch` input for this batch: one epoch per member.
    pub fn epochs(&self, items: &[(&[UlcCode], u32)]) -> Vec<i64> {
        self.members
            .iter()
            .map(|&i| i64::from(items[i].1))
            .collect()
    }

    /// The graph's `layer_features` input for this batch (format v2):
    /// `[members, length, FEATURE_COUNT]` in row-major order, from `rows`, which holds each
    /// item's rows at the item's index.
    pub fn features(&self, rows: &[&[FeatureRow]]) -> Vec<f32> {
        self.members
            .iter()
            .flat_map(|&i| rows[i].iter().flatten().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(ty: u8) -> UlcCode {
        UlcCode {
            ty,
            kw: 0,
            kh: 0,
            ch: 0,
        }
    }

    #[test]
    fn items_are_grouped_by_length_shortest_first_keeping_input_order() {
        let (a, b, c) = (vec![code(1)], vec![code(1), code(2)], vec![code(3)]);
        let items: Vec<(&[UlcCode], u32)> = vec![(&b, 8), (&a, 3), (&c, 5), (&b, 1)];
        let batches = length_batches(&items);
        assert_eq!(
            batches,
            vec![
                LengthBatch {
                    length: 1,
                    members: vec![1, 2]
                },
                LengthBatch {
                    length: 2,
                    members: vec![0, 3]
                },
            ]
        );
        assert_eq!(batches[0].codes(&items), vec![1, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(batches[0].epochs(&items), vec![3, 5]);
        assert_eq!(batches[1].epochs(&items), vec![8, 1]);
        let row = |x: f32| [x; peephole_ir::layer_features::FEATURE_COUNT];
        let (ra, rb, rc) = ([row(1.0)], [row(2.0), row(3.0)], [row(4.0)]);
        let rows: Vec<&[FeatureRow]> = vec![&rb, &ra, &rc, &rb];
        let flat = |rows: &[FeatureRow]| rows.iter().flatten().copied().collect::<Vec<f32>>();
        assert_eq!(batches[0].features(&rows), [flat(&ra), flat(&rc)].concat());
        assert_eq!(batches[1].features(&rows), [flat(&rb), flat(&rb)].concat());
    }

    #[test]
    fn no_items_make_no_batches() {
        assert!(length_batches(&[]).is_empty());
    }
}
