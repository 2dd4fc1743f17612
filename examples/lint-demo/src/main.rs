//! Declares a few real-looking networks, good and bad, with `peephole_check!`: `cargo build`
//! shows the rule warnings of the bad ones and the predictor's warning for networks predicted
//! to train poorly; `cargo run` prints every network's text form and ULC codes.
//!
//! All but one take 1x28x28 images, the inputs of the protocol the embedded predictor was
//! trained under (fmnist-budget-v1); `PastedStem` takes CIFAR-shaped 3x32x32 images to show
//! the note the lint adds when a network is outside what the model saw.

use peephole::DeclaredNetwork;

peephole::peephole_check! {
    /// LeNet-5 as tutorials write it today: ReLU and max pooling on 28x28 digits.
    pub struct LeNet: [1, 28, 28] -> 10 {
        // The stem widens 1 -> 6 channels, beyond ULC's largest ratio bin (3x): the image's
        // channels are nothing to change, so no warning.
        conv(5x5, 6), relu, maxpool(2, stride = 2),
        conv(5x5, 16), bn, relu, maxpool(2, stride = 2),
    }

    /// A small VGG: 3x3 convs in pairs, BatchNorm before every ReLU.
    pub struct Vgg8: [1, 28, 28] -> 10 {
        conv(3x3, 32), bn, relu,
        conv(3x3, 32), bn, relu, maxpool(2, stride = 2),
        conv(3x3, 64), bn, relu, conv(3x3, 64), bn, relu, maxpool(2, stride = 2),
        conv(3x3, 128), bn, relu, conv(3x3, 128), bn, relu, maxpool(2, stride = 2),
    }

    /// 1990s style: sigmoids all the way down and never normalised.
    /// Warns: saturating_chain.
    pub struct DeepSigmoid: [1, 28, 28] -> 10 {
        conv(3x3, 8), sigmoid, conv(3x3, 16), sigmoid, maxpool(2, stride = 2),
        conv(3x3, 32), sigmoid,
        conv(3x3, 32), sigmoid, maxpool(2, stride = 2),
        conv(3x3, 64), sigmoid,
    }

    /// A bottleneck squeezed to two channels before the head.
    /// Warns: channel_collapse and ulc_clamp (16 -> 2 channels).
    pub struct Squeezed: [1, 28, 28] -> 10 {
        conv(3x3, 8), bn, relu, conv(3x3, 16), bn, relu, maxpool(2, stride = 2),
        conv(1x1, 2), relu,
    }

    /// An ImageNet stem pasted onto CIFAR's 32x32 colour images, with a doubled activation.
    /// Warns: ulc_clamp (7x7 kernels), oversized_kernel, stacked_activations.
    pub struct PastedStem: [3, 32, 32] -> 10 {
        conv(7x7, 64, stride = 2), relu, maxpool(3, stride = 2),
        conv(7x7, 64), relu, relu,
    }
}

/// One network's report: its text form, size and the codes the predictor reads.
fn report<N: DeclaredNetwork>() {
    println!("{}: {}", N::NAME, N::TEXT);
    println!(
        "  {} parameters, {} multiply-accumulates per image",
        N::PARAMS,
        N::MACS
    );
    let codes: Vec<String> = N::ULC
        .iter()
        .map(|code| format!("{:?}", code.fields()))
        .collect();
    println!("  ULC v1: {}", codes.join(" "));
}

fn main() {
    report::<LeNet>();
    report::<Vgg8>();
    report::<DeepSigmoid>();
    report::<Squeezed>();
    report::<PastedStem>();
}
