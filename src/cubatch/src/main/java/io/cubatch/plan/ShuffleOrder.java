package io.cubatch.plan;

/**
 * The seeded, epoch-dependent permutation of {@code [0, n)} that defines a shuffled epoch's global sample
 * order. It is random access ({@link #sampleAt(long)} is O(1) time and memory, no table), a pure function
 * of {@code (n, seed, epoch, position)}, and does not depend on the world size: every rank computes the
 * same order, and a run resumed with another world size sees the same order.
 *
 * <h2>Algorithm (cubatch-feistel-v1), precise enough to reimplement</h2>
 * All arithmetic is on unsigned 64-bit integers modulo 2<sup>64</sup>; {@code >>>} is a logical shift.
 * <pre>
 * GOLDEN  = 0x9E3779B97F4A7C15
 * mix(z)  : z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9
 *           z = (z ^ (z >>> 27)) * 0x94D049BB133111EB
 *           return z ^ (z >>> 31)                      (the SplitMix64 finaliser)
 *
 * bits    = max(2, ceil(log2(n))), rounded up to an even number;  half = bits / 2
 * mask    = 2^half - 1
 * base    = mix(seed ^ mix(epoch + GOLDEN))
 * key[i]  = mix(base + (i + 1) * GOLDEN)              for i = 0 .. ROUNDS-1, ROUNDS = 6
 *
 * feistel(x):  L = x >>> half;  R = x &amp; mask
 *              repeat for i = 0 .. ROUNDS-1:  (L, R) = (R, L ^ (mix(R ^ key[i]) &amp; mask))
 *              return (L &lt;&lt; half) | R                 (a bijection on [0, 2^bits))
 *
 * sampleAt(p) for p in [0, n):  x = feistel(p);  while x &gt;= n: x = feistel(x);  return x
 * </pre>
 * The last line is cycle walking: since {@code 2^bits < 4n}, it takes fewer than four rounds on average,
 * and it restricts the bijection on {@code [0, 2^bits)} to a bijection on {@code [0, n)}.
 * {@code seed} and {@code epoch} enter as their two's-complement 64-bit patterns.
 *
 * <p>Golden vector: {@code n = 10, seed = 42, epoch = 0} gives {@code [9, 3, 1, 5, 8, 6, 2, 4, 7, 0]}.
 * {@code scripts/shuffle_reference.py} is an independent Python implementation of this text; its
 * vectors are pinned by {@code ShuffleOrderTest}, so the Java code and the specification cannot drift.
 */
public final class ShuffleOrder {
    /** Name and version of the algorithm above; a change of algorithm must change this name. */
    public static final String ALGORITHM = "cubatch-feistel-v1";

    static final long GOLDEN = 0x9E3779B97F4A7C15L;
    static final int ROUNDS = 6;
    /** Largest supported sample count: 2^62, so that {@code bits} never exceeds 62. */
    public static final long MAX_SAMPLES = 1L << 62;

    private final long n;
    private final int half;
    private final long mask;
    private final long[] keys = new long[ROUNDS];

    /**
     * The permutation of {@code [0, n)} for one seed and epoch; it holds six round keys, nothing per sample.
     *
     * @param n     number of samples, in [1, 2^62]
     * @param seed  the user's seed
     * @param epoch the epoch; each epoch gets a different order
     * @throws IllegalArgumentException when {@code n} is outside [1, 2^62]
     */
    public ShuffleOrder(long n, long seed, long epoch) {
        if (n < 1 || n > MAX_SAMPLES) {
            throw new IllegalArgumentException(
                    "shuffle domain must hold 1 to 2^62 samples, got n=" + n);
        }
        int bits = Math.max(2, 64 - Long.numberOfLeadingZeros(n - 1));
        if ((bits & 1) == 1) {
            bits++;
        }
        this.n = n;
        this.half = bits / 2;
        this.mask = (1L << half) - 1;
        long base = mix(seed ^ mix(epoch + GOLDEN));
        for (int i = 0; i < ROUNDS; i++) {
            keys[i] = mix(base + (i + 1) * GOLDEN);
        }
    }

    /**
     * The sample at global position {@code position} of the shuffled epoch.
     *
     * @param position the global position, in {@code [0, size())}
     * @return the sample index at that position, in {@code [0, size())}
     * @throws IndexOutOfBoundsException when the position is outside {@code [0, size())}
     */
    public long sampleAt(long position) {
        if (position < 0 || position >= n) {
            throw new IndexOutOfBoundsException("position " + position + " outside [0, " + n + ")");
        }
        long x = feistel(position);
        while (x >= n) {
            x = feistel(x);
        }
        return x;
    }

    /**
     * Number of samples permuted.
     *
     * @return the number of samples {@code n}
     */
    public long size() {
        return n;
    }

    private long feistel(long x) {
        long left = x >>> half;
        long right = x & mask;
        for (int i = 0; i < ROUNDS; i++) {
            long next = left ^ (mix(right ^ keys[i]) & mask);
            left = right;
            right = next;
        }
        return (left << half) | right;
    }

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
