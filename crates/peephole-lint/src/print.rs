//! Printing IR in the declaration syntax, the inverse of [`crate::lower`]: what tools write
//! for a user to paste into `peephole::network! { ... }`.
//!
//! Defaults are left out (stride 1, the padding a stride implies), except a pool's stride,
//! which is always written: the `pool_stride_default` lint asks for it because PyTorch,
//! tch and candle default it differently.

use peephole_ir::{Layer, LayerKind, Network, Padding};

/// One layer as a declaration writes it: `conv(3x3, 16, stride = 2)`, `maxpool(2x2, stride =
/// 2)`, `relu`.
pub fn layer(layer: &Layer) -> String {
    let word = layer.kind().word();
    let Some((kernel, stride, padding)) = layer.window() else {
        return word.to_string();
    };
    let mut args = vec![kernel.to_string()];
    args.extend(layer.out_channels().map(|channels| channels.to_string()));
    let is_pool = layer.kind() != LayerKind::Conv;
    let one_pixel = kernel.width == 1 && kernel.height == 1;
    if stride != 1 || (is_pool && !one_pixel) {
        args.push(format!("stride = {stride}"));
    }
    if padding != Padding::default_for_stride(stride) {
        args.push(format!("padding = {}", padding.word()));
    }
    format!("{word}({})", args.join(", "))
}

/// A whole network as one declaration: `struct Name: [1, 28, 28] -> 10 { conv(3x3, 16), relu }`.
pub fn network(name: &str, network: &Network) -> String {
    let input = network.input;
    let layers: Vec<String> = network.layers.iter().map(layer).collect();
    format!(
        "struct {name}: [{}, {}, {}] -> {} {{ {} }}",
        input.channels,
        input.height,
        input.width,
        network.classes,
        layers.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use peephole_ir::Kernel;

    #[test]
    fn layers_print_without_defaults_but_with_a_pool_stride() {
        let kernel = Kernel {
            width: 3,
            height: 1,
        };
        let cases = [
            (Layer::conv(Kernel::square(3), 16, 1), "conv(3x3, 16)"),
            (Layer::conv(kernel, 8, 2), "conv(3x1, 8, stride = 2)"),
            (
                Layer::Conv {
                    kernel,
                    out_channels: 8,
                    stride: 1,
                    padding: Padding::Valid,
                },
                "conv(3x1, 8, padding = valid)",
            ),
            (
                Layer::max_pool(Kernel::square(2), 2),
                "maxpool(2x2, stride = 2)",
            ),
            (
                Layer::avg_pool(Kernel::square(3), 1),
                "avgpool(3x3, stride = 1)",
            ),
            (Layer::max_pool(Kernel::square(1), 1), "maxpool(1x1)"),
            (Layer::BatchNorm, "bn"),
            (Layer::Tanh, "tanh"),
        ];
        for (ir, expected) in cases {
            assert_eq!(layer(&ir), expected);
        }
    }
}
