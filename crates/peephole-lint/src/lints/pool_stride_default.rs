//! `pool_stride_default`: a pool written without a stride (1 here, the kernel in PyTorch, tch and candle).

use super::{Diagnostic, Lint, LintDoc, LintScope, LintSource};
use peephole_ir::Network;

/// What `pool_stride_default` is, for the registry, `cargo peephole explain --lint` and README.
pub(super) const DOC: LintDoc = LintDoc {
    name: "pool_stride_default",
    scope: LintScope::Layer,
    source: LintSource::Declaration,
    summary: "a pool written without a stride (1 here, the kernel in PyTorch, tch and candle)",
    explanation: "Here a pool's stride defaults to 1 (the feature map keeps its size); PyTorch, tch and candle default it to the kernel (the map shrinks K times). A network ported from or to one of them silently changes, so the declaration should say which it means. Only the declaration syntax sees an unwritten stride.",
    bad: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), relu, maxpool(2), conv(3x3, 32), relu }",
    good: "struct Net: [1, 28, 28] -> 10 { conv(3x3, 16), relu, maxpool(2, stride = 2), conv(3x3, 32), relu }",
};

/// `pool_stride_default`: a `maxpool(K)` or `avgpool(K)` written without `stride = ...`.
/// Here the stride defaults to 1 (the feature map keeps its size); PyTorch, tch and candle
/// default it to the kernel (the map shrinks K times). A network ported from or to one of
/// them silently changes, so the declaration should say which one it means.
///
/// `unwritten_strides` are the indices of the pools written without `stride = ...`, which only
/// lowering sees (the IR holds the stride, not whether it was written).
pub(crate) fn check(network: &Network, unwritten_strides: &[usize]) -> Vec<Diagnostic> {
    unwritten_strides
        .iter()
        .filter_map(|&index| {
            let layer = network.layers.get(index)?;
            let (kernel, _, _) = layer.window()?;
            let word = layer.kind().word();
            let k = if kernel.is_square() {
                kernel.width.to_string()
            } else {
                kernel.to_string()
            };
            Some(Diagnostic {
                lint: Lint::PoolStrideDefault,
                layer: Some(index),
                message: format!(
                    "layer {index} (`{word}({k})`) has no stride, so it is 1 and keeps the feature map's size; \
                     PyTorch, tch and candle default a pool's stride to its kernel ({k}) and would shrink the map"
                ),
                // A stride is one number here: PyTorch's (width, height) stride of an
                // asymmetric pool has no spelling, so only the square case gets one.
                help: Some(if kernel.width == kernel.height {
                    format!(
                        "write `{word}({k}, stride = {k})` for PyTorch's pool, or `{word}({k}, stride = 1)` to keep this one"
                    )
                } else {
                    format!(
                        "write `{word}({k}, stride = 1)` to keep this one; PyTorch's {k} stride has no spelling here (a stride is one number)"
                    )
                }),
            })
        })
        .collect()
}
