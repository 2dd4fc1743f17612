peephole::network! {
    pub struct Net: [3, 32, 32] -> 10 {
        conv(3x3, 16), BatchNorm, relu, dropout, linear,
    }
}

fn main() {}
