peephole::network! {
    pub struct Net: [3, 32, 32] -> 10 {
        conv(3X3, 16), relu,
        conv(3x, 16), relu,
        conv(three, 16), relu,
        maxpool(2.5, stride = 2),
        avgpool(2 x y),
        conv(16), relu,
    }
}

fn main() {}
