peephole::network! {
    pub struct Net: [3, 32, 32] -> 10 {
        conv(3x3, 0), relu,
        conv(0x3, 8), relu,
        maxpool(2, stride = 0),
    }
}

fn main() {}
