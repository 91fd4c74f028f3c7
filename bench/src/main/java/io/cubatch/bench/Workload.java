package io.cubatch.bench;

import io.cubatch.collate.PadSide;
import io.cubatch.collate.Padding;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * One benchmark workload: a corpus of token sequences with a length distribution, and {@link #BATCHES}
 * seeded random batches of {@code batchSize} indices, padded POST to each batch's longest in
 * {@code dtype}. Fully deterministic, so the summary recomputes the bytes per batch the benchmarks moved.
 */
public final class Workload implements AutoCloseable {
    public static final int BATCHES = 16;
    public static final int CAP = 2048;

    public final String distribution;
    public final int batchSize;
    public final DType dtype;
    public final SampleStore store;
    public final long[][] batches;
    public final Padding padding;
    /** Per batch: real-token bytes and padding bytes of the data tensor, and all output bytes. */
    public final long[] realBytes;
    public final long[] padBytes;
    public final long[] outputBytes;

    public Workload(String distribution, int batchSize, DType dtype) {
        this.distribution = distribution;
        this.batchSize = batchSize;
        this.dtype = dtype;
        int n = Math.max(4096, BATCHES * batchSize);
        SplittableRandom rng = new SplittableRandom(distribution.hashCode() * 31L + batchSize);
        long[] offsets = new long[n + 1];
        for (int i = 0; i < n; i++) {
            offsets[i + 1] = offsets[i] + length(rng);
        }
        Arena arena = Arena.ofShared();
        MemorySegment off = arena.allocate(8L * (n + 1), 8);
        MemorySegment.copy(offsets, 0, off, ValueLayout.JAVA_LONG, 0, n + 1);
        MemorySegment values = arena.allocate(4 * offsets[n], 64);
        for (long i = 0; i < offsets[n]; i++) {
            values.setAtIndex(ValueLayout.JAVA_INT, i, rng.nextInt(50_000));
        }
        this.store = SampleStore.adoptRagged(DType.INT32, new long[0], values, off, distribution + " corpus", arena);
        this.padding = Padding.builder().side(PadSide.POST).dtype(dtype).build();
        this.batches = new long[BATCHES][batchSize];
        this.realBytes = new long[BATCHES];
        this.padBytes = new long[BATCHES];
        this.outputBytes = new long[BATCHES];
        for (int k = 0; k < BATCHES; k++) {
            long longest = 0;
            long real = 0;
            for (int i = 0; i < batchSize; i++) {
                batches[k][i] = rng.nextLong(n);
                long len = store.length(batches[k][i]);
                longest = Math.max(longest, len);
                real += len;
            }
            long slots = longest * batchSize;
            realBytes[k] = real * dtype.byteSize();
            padBytes[k] = (slots - real) * dtype.byteSize();
            outputBytes[k] = slots * dtype.byteSize() + 4L * batchSize + slots;   // data + lengths + mask
        }
    }

    private long length(SplittableRandom rng) {
        return switch (distribution) {
            case "uniform" -> 1 + rng.nextInt(600);
            case "lognormal" -> {
                double g = Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble());
                yield Math.max(1, Math.min(CAP, Math.round(Math.exp(Math.log(300) + 0.6 * g))));
            }
            case "bimodal" -> rng.nextInt(5) == 0 ? 896 + rng.nextInt(256) : 32 + rng.nextInt(64);
            default -> throw new IllegalArgumentException("unknown distribution " + distribution
                    + ": uniform, lognormal or bimodal");
        };
    }

    /** Average and largest output bytes per batch. */
    public record Sizes(double average, long max) {
    }

    /** Average output bytes (data + lengths + mask) per batch. */
    public double averageOutputBytes() {
        double s = 0;
        for (long b : outputBytes) {
            s += b;
        }
        return s / BATCHES;
    }

    public long maxOutputBytes() {
        long m = 0;
        for (long b : outputBytes) {
            m = Math.max(m, b);
        }
        return m;
    }

    @Override
    public void close() {
        store.close();
    }
}
