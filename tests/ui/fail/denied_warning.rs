#![deny(deprecated)]

peephole::network! {
    #[peephole(allow(ulc_clamp))]
    pub struct Stacked: [1, 28, 28] -> 10 {
        conv(3x3, 16), tanh, relu,
        conv(3x3, 32), relu, bn,
    }
}

fn main() {}
