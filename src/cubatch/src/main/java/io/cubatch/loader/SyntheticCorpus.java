package io.cubatch.loader;

import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * The embedded default dataset of {@code cubatch run}: a deterministic synthetic token corpus built in
 * memory. Lengths are log-normal with median {@code medianLength} and sigma 0.6 (so the mean is about
 * 1.2 x the median and a long tail reaches the cap), clipped to [1, cap]; tokens are uniform in
 * [0, vocabulary). Same arguments, same corpus, on every machine.
 */
public final class SyntheticCorpus {
    /** Sequences in the default corpus. */
    public static final int DEFAULT_SAMPLES = 200_000;
    /** Median sequence length of the default corpus, in tokens. */
    public static final int DEFAULT_MEDIAN_LENGTH = 300;
    /** Longest sequence of the default corpus, in tokens. */
    public static final int DEFAULT_CAP = 2048;
    /** Token ids of the default corpus lie in {@code [0, DEFAULT_VOCABULARY)}. */
    public static final int DEFAULT_VOCABULARY = 50_000;
    /** Seed of the default corpus. */
    public static final long DEFAULT_SEED = 20261122L;
    static final double SIGMA = 0.6;

    private SyntheticCorpus() {
    }

    /**
     * The default corpus: 200,000 sequences, median 300 tokens, cap 2048, vocabulary 50,000, int32.
     *
     * @return a new int32 store owning its memory; the caller closes it
     */
    public static SampleStore standard() {
        return generate(DEFAULT_SAMPLES, DEFAULT_MEDIAN_LENGTH, DEFAULT_CAP, DEFAULT_VOCABULARY, DEFAULT_SEED);
    }

    /**
     * A corpus with these parameters: lengths log-normal around {@code medianLength}, clipped to {@code [1, cap]},
     * tokens uniform in {@code [0, vocabulary)}.
     *
     * @param samples the number of sequences, at least 1
     * @param medianLength the median length, in tokens, at least 1
     * @param cap the longest length, in tokens, at least 1
     * @param vocabulary the number of distinct token ids, at least 1
     * @param seed the random seed; equal arguments give an equal corpus
     * @return a new int32 store owning its memory; the caller closes it
     * @throws IllegalArgumentException when a count is below 1
     */
    public static SampleStore generate(int samples, int medianLength, int cap, int vocabulary, long seed) {
        if (samples < 1 || medianLength < 1 || cap < 1 || vocabulary < 1) {
            throw new IllegalArgumentException("samples, median length, cap and vocabulary must be >= 1");
        }
        SplittableRandom rng = new SplittableRandom(seed);
        long[] offsets = new long[samples + 1];
        double mu = Math.log(medianLength);
        for (int i = 0; i < samples; i++) {
            double gaussian = Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble());
            long len = Math.max(1, Math.min(cap, Math.round(Math.exp(mu + SIGMA * gaussian))));
            offsets[i + 1] = offsets[i] + len;
        }
        Arena arena = Arena.ofShared();
        try {
            MemorySegment off = arena.allocate(8L * (samples + 1), 8);
            MemorySegment.copy(offsets, 0, off, ValueLayout.JAVA_LONG, 0, samples + 1);
            long total = offsets[samples];
            MemorySegment values = arena.allocate(4 * total, 64);
            for (long i = 0; i < total; i++) {
                values.setAtIndex(ValueLayout.JAVA_INT, i, rng.nextInt(vocabulary));
            }
            return SampleStore.adoptRagged(DType.INT32, new long[0], values, off, "synthetic corpus (" + samples + " sequences, median "
                    + medianLength + ", cap " + cap + ", vocabulary " + vocabulary + ", seed " + seed + ")", arena);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }
}
