#!/usr/bin/env python3
"""Independent Python implementation of cubatch-feistel-v1 (see ShuffleOrder's Javadoc).

Written from the documented algorithm, not from the Java code, to show the specification is enough to
reproduce cubatch's shuffled order in another language. It prints the golden vectors that
ShuffleOrderTest pins:  python3 scripts/shuffle_reference.py
"""
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
ROUNDS = 6


def mix(z):
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class ShuffleOrder:
    def __init__(self, n, seed, epoch):
        bits = max(2, (n - 1).bit_length())
        bits += bits & 1
        self.n, self.half = n, bits // 2
        self.mask = (1 << self.half) - 1
        base = mix((seed & M64) ^ mix((epoch + GOLDEN) & M64))
        self.keys = [mix((base + (i + 1) * GOLDEN) & M64) for i in range(ROUNDS)]

    def feistel(self, x):
        left, right = x >> self.half, x & self.mask
        for k in self.keys:
            left, right = right, left ^ (mix(right ^ k) & self.mask)
        return (left << self.half) | right

    def sample_at(self, p):
        assert 0 <= p < self.n
        x = self.feistel(p)
        while x >= self.n:
            x = self.feistel(x)
        return x


if __name__ == "__main__":
    for n, seed, epoch in [(10, 42, 0), (10, 42, 1), (16, 7, 3)]:
        o = ShuffleOrder(n, seed, epoch)
        print(f"n={n} seed={seed} epoch={epoch}:", [o.sample_at(i) for i in range(n)])
    big = ShuffleOrder(5_000_000_000, -1, 9)
    print("n=5000000000 seed=-1 epoch=9: first", big.sample_at(0), "last", big.sample_at(4_999_999_999))
