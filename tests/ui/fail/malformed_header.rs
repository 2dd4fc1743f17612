peephole::network! {
    pub struct NoColon [1, 28, 28] -> 10 {
        conv(3x3, 16), relu,
    }

    pub struct TextShape: [1x28x28] -> 0 {
        conv(3x3, 16), relu,
    }

    /// Still checked although its neighbours are broken.
    pub struct Fine: [1, 28, 28] -> 10 {
        conv(3x3, 16), relu,, relu(1),
    }
}

fn main() {}
