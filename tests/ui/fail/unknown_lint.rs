peephole::network! {
    #[peephole(allow(stacked_activation, ulc_clamp))]
    #[peephole(deny(ulc_clamp))]
    pub struct Net: [3, 32, 32] -> 10 {
        #[peephole(allow(no_nonlinearity, chanel_collapse))]
        conv(3x3, 2), relu,
    }
}

fn main() {}
