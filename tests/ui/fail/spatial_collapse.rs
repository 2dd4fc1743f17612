peephole::network! {
    /// Four halvings take 16x16 down to 1x1; the valid 3x3 conv then has nothing to read.
    pub struct Shrinking: [3, 16, 16] -> 10 {
        conv(3x3, 16), relu, maxpool(2, stride = 2),
        conv(3x3, 32), relu, maxpool(2, stride = 2),
        conv(3x3, 64), relu, maxpool(2, stride = 2),
        maxpool(2, stride = 2),
        conv(3x3, 64, padding = valid), relu,
    }
}

fn main() {
    // The type still exists after the error, so this line adds no follow-up error.
    let _ = Shrinking::ULC;
}
