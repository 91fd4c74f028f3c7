package io.cubatch.bench;

import io.cubatch.collate.Collator;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * One workload of the honest benchmarks ({@link HonestBenchmark}, {@link EpochBenchmark}): a log-normal corpus
 * (median 300, sigma 0.6, cap 2048 tokens, the README's corpus) in {@code src} dtype, cut into batches of
 * {@code batchSize} samples padded POST to each batch's longest in {@code dtype}, and one reused output slot
 * (sized for the largest batch, viewed with each batch's shape, as a loader slot is).
 *
 * <p>Regimes: {@code steady} cycles through 16 random batches of a corpus of max(4096, 16 B) samples (a loader
 * whose working set stays in cache); {@code streaming} makes the corpus at least 4x the last-level cache and
 * cycles through one seeded permutation of all its samples, so each batch's tokens come from DRAM.
 *
 * <p>The ceilings do exactly the work a backend cannot avoid: read every row's offsets (first, as a backend
 * does to find the batch's longest) and load its first token (as the backends do, so that in the streaming
 * regime every row's first miss is in flight at once: 10-20 % faster there), then per row read its real
 * tokens at their places in the store in the batch's order, write them into the row (a copy, or when the
 * element sizes differ a plain integer cast, the cheapest move of those bytes; in C built for AVX2 where the
 * CPU has it, as the backends' conversions are), fill the padding with the pad value (0), write the row's
 * length and its mask. {@link #ceilingJava} with {@code MemorySegment.copy} (from constant rows for the padding
 * and mask), {@link #ceilingC} with C memcpy/memset (libcubatch's cb_ceiling_pad). The summary takes the faster of the two
 * in the same run as the ceiling.
 */
public final class HonestCase implements AutoCloseable {
    public static final int CAP = 2048;
    private static final int STEADY_BATCHES = 16;
    /** The C ceiling splits rows over threads as the native backend does (it passes the available processors). */
    private static final int THREADS = Runtime.getRuntime().availableProcessors();

    public final String regime;
    public final int batchSize;
    public final DType src;
    public final DType dtype;
    public final SampleStore store;
    public final Padding padding;
    public final long[][] batches;
    public final PaddedShape[] shapes;
    public final PaddedBatch[] outputs;
    /** Output bytes per batch (data + lengths + mask), for GB/s. */
    public final long[] outputBytes;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment offsets;
    private final MemorySegment indexScratch;
    private final MemorySegment zeros;   // CAP elements of the widest dtype: the pad value 0
    private final MemorySegment onesZeros;   // CAP mask bytes of 1, then CAP of 0
    private final long[] rowBegin;
    private final long[] rowLength;
    /** The sum of the bytes {@link #ceilingJava} touches, stored so that the JIT keeps those loads. */
    private long sink;

    /** Corpus tokens for a regime: at least 4x the last-level cache for streaming. */
    static long corpusTokens(String regime, int batchSize, int srcSize) {
        return switch (regime) {
            case "steady" -> -Math.max(4096, STEADY_BATCHES * batchSize);   // negative: a sample count
            case "streaming" -> Math.max(4 * lastLevelCacheBytes(), 256L << 20) / srcSize;
            case "epoch" -> -16384;
            default -> throw new IllegalArgumentException("regime " + regime + ": steady, streaming or epoch");
        };
    }

    /** The largest cache of cpu0 (sysfs), or 32 MiB when sysfs does not say. */
    public static long lastLevelCacheBytes() {
        long best = 32L << 20;
        for (int i = 0; i < 8; i++) {
            Path p = Path.of("/sys/devices/system/cpu/cpu0/cache/index" + i + "/size");
            try {
                String s = Files.readString(p).trim();
                long mult = s.endsWith("K") ? 1024 : s.endsWith("M") ? 1 << 20 : 1;
                long v = Long.parseLong(s.replaceAll("[KM]$", "")) * mult;
                best = i == 0 ? v : Math.max(best, v);
            } catch (IOException | NumberFormatException e) {
                break;
            }
        }
        return best;
    }

    public HonestCase(String regime, int batchSize, DType src, DType dtype, Collator shaper) {
        this.regime = regime;
        this.batchSize = batchSize;
        this.src = src;
        this.dtype = dtype;
        SplittableRandom rng = new SplittableRandom(0x5eedL * 31 + batchSize);
        long budget = corpusTokens(regime, batchSize, src.byteSize());
        // lengths first: a sample count (steady, epoch) or a token budget (streaming)
        long[] lengths = new long[1 << 16];
        int n = 0;
        long tokens = 0;
        while (budget < 0 ? n < -budget : tokens < budget) {
            if (n == lengths.length) {
                lengths = java.util.Arrays.copyOf(lengths, 2 * n);
            }
            lengths[n] = length(rng);
            tokens += lengths[n++];
        }
        offsets = arena.allocate(8L * (n + 1), 64);
        long at = 0;
        for (int i = 0; i < n; i++) {
            offsets.setAtIndex(ValueLayout.JAVA_LONG, i, at);
            at += lengths[i];
        }
        offsets.setAtIndex(ValueLayout.JAVA_LONG, n, at);
        MemorySegment values = arena.allocate(tokens * src.byteSize(), 64);
        fillTokens(values, src, tokens);
        store = SampleStore.wrapRagged(src, new long[0], values, offsets);
        padding = Padding.builder().side(PadSide.POST).dtype(dtype).build();
        if (regime.equals("steady")) {
            batches = new long[STEADY_BATCHES][batchSize];
            for (long[] b : batches) {
                for (int i = 0; i < batchSize; i++) {
                    b[i] = rng.nextLong(n);
                }
            }
        } else {
            long[] order = new long[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            for (int i = n - 1; i > 0; i--) {
                int j = rng.nextInt(i + 1);
                long t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            batches = new long[n / batchSize][];
            for (int k = 0; k < batches.length; k++) {
                batches[k] = java.util.Arrays.copyOfRange(order, k * batchSize, (k + 1) * batchSize);
            }
        }
        this.shapes = new PaddedShape[batches.length];
        this.outputs = new PaddedBatch[batches.length];
        this.outputBytes = new long[batches.length];
        PaddedShape max = null;
        for (int k = 0; k < batches.length; k++) {
            shapes[k] = shaper.shape(store, batches[k], padding);
            if (max == null || shapes[k].dataBytes() > max.dataBytes()) {
                max = shapes[k];
            }
            outputBytes[k] = shapes[k].dataBytes() + shapes[k].lengthsBytes() + shapes[k].maskBytes();
        }
        PaddedBatch slot = PaddedBatch.allocate(max, arena);
        for (int k = 0; k < batches.length; k++) {
            outputs[k] = slot.withShape(shapes[k]);
        }
        indexScratch = arena.allocate(8L * batchSize, 64);
        zeros = arena.allocate(8L * CAP, 64);   // Arena memory starts zeroed
        onesZeros = arena.allocate(2L * CAP, 64);
        onesZeros.asSlice(0, CAP).fill((byte) 1);
        rowBegin = new long[batchSize];
        rowLength = new long[batchSize];
    }

    private static long length(SplittableRandom rng) {
        double g = Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble());
        return Math.max(1, Math.min(CAP, Math.round(Math.exp(Math.log(300) + 0.6 * g))));
    }

    /** Token ids below 50,000 (exact in every output dtype but int8/uint8), from a cheap hash. */
    private static void fillTokens(MemorySegment values, DType src, long tokens) {
        for (long i = 0; i < tokens; i++) {
            int t = (int) (((i * 0x9E3779B97F4A7C15L) >>> 40) % 50_000);
            switch (src) {
                case INT32 -> values.setAtIndex(ValueLayout.JAVA_INT, i, t);
                case INT64 -> values.setAtIndex(ValueLayout.JAVA_LONG, i, t);
                case FLOAT32 -> values.setAtIndex(ValueLayout.JAVA_FLOAT, i, t);
                default -> throw new IllegalArgumentException("source dtype " + src + ": int32, int64 or float32");
            }
        }
    }

    /** A variant's number, for {@link #run}: javaBackend 0, nativeBackend 1, ceilingJava 2, ceilingC 3. */
    static int way(String variant) {
        return switch (variant) {
            case "javaBackend" -> 0;
            case "nativeBackend" -> 1;
            case "ceilingJava" -> 2;
            case "ceilingC" -> 3;
            default -> throw new IllegalArgumentException("variant " + variant
                    + ": javaBackend, nativeBackend, ceilingJava or ceilingC");
        };
    }

    /** The collator a variant pads with (the ceilings get java's, which they never call). */
    static Collator collatorFor(int way) {
        return io.cubatch.collate.Backends.create(way == 1 ? "native" : "java");
    }

    /** Batch {@code k} padded the variant's way: through {@code collator}, or by one of the ceilings. */
    PaddedBatch run(int way, Collator collator, int k) throws Throwable {
        return switch (way) {
            case 0, 1 -> pad(collator, k);
            case 2 -> ceilingJava(k);
            default -> ceilingC(k);
        };
    }

    /** Pads batch k with a backend into the slot. */
    public PaddedBatch pad(Collator c, int k) {
        c.pad(store, batches[k], padding, outputs[k]);
        return outputs[k];
    }

    /** The ceiling in Java: MemorySegment.copy of each row's tokens, of its padding and of its mask. */
    public PaddedBatch ceilingJava(int k) {
        PaddedBatch out = outputs[k];
        long[] idx = batches[k];
        long l = shapes[k].length();
        int ss = src.byteSize();
        int ds = dtype.byteSize();
        MemorySegment values = store.values();
        MemorySegment data = out.data();
        MemorySegment mask = out.attentionMask();
        long touched = 0;
        for (int b = 0; b < idx.length; b++) {   // every row's offsets first, as a backend reads them
            long begin = offsets.getAtIndex(ValueLayout.JAVA_LONG, idx[b]);
            rowBegin[b] = begin;
            rowLength[b] = Math.min(offsets.getAtIndex(ValueLayout.JAVA_LONG, idx[b] + 1) - begin, l);
            if (rowLength[b] > 0) {   // and its first token, as the backends touch it (cb_pad's touch_rows)
                touched += values.get(ValueLayout.JAVA_BYTE, begin * ss);
            }
        }
        sink = touched;
        for (int b = 0; b < idx.length; b++) {
            long begin = rowBegin[b];
            long n = rowLength[b];
            long row = b * l;
            if (ss == ds) {
                MemorySegment.copy(values, begin * ss, data, row * ds, n * ds);
            } else {
                castRow(values, begin, data, row, n, ss, ds);
            }
            // copies from constant rows, not fills of slices: a slice per fill was not always scalar-replaced
            // (up to 5 KB per batch in the streaming regime); the mask row in one copy from CAP ones then CAP
            // zeros (two copies made this ceiling slower than the java backend, which copies one)
            MemorySegment.copy(zeros, 0, data, (row + n) * ds, (l - n) * ds);
            out.lengths().setAtIndex(ValueLayout.JAVA_INT, b, (int) n);
            MemorySegment.copy(onesZeros, CAP - n, mask, row, l);
        }
        return out;
    }

    /** The cheapest move of n elements of ss bytes into n of ds bytes: a plain integer cast. */
    private static void castRow(MemorySegment v, long from, MemorySegment d, long to, long n, int ss, int ds) {
        if (ss == 4 && ds == 2) {
            for (long i = 0; i < n; i++) {
                d.setAtIndex(ValueLayout.JAVA_SHORT, to + i, (short) v.getAtIndex(ValueLayout.JAVA_INT, from + i));
            }
        } else if (ss == 8 && ds == 4) {
            for (long i = 0; i < n; i++) {
                d.setAtIndex(ValueLayout.JAVA_INT, to + i, (int) v.getAtIndex(ValueLayout.JAVA_LONG, from + i));
            }
        } else if (ss == 8 && ds == 2) {
            for (long i = 0; i < n; i++) {
                d.setAtIndex(ValueLayout.JAVA_SHORT, to + i, (short) v.getAtIndex(ValueLayout.JAVA_LONG, from + i));
            }
        } else if (ss == 4 && ds == 8) {
            for (long i = 0; i < n; i++) {
                d.setAtIndex(ValueLayout.JAVA_LONG, to + i, v.getAtIndex(ValueLayout.JAVA_INT, from + i));
            }
        } else {
            throw new IllegalArgumentException("element sizes " + ss + " -> " + ds);
        }
    }

    /** The ceiling in C: cb_ceiling_pad (memcpy or a cast loop, memset) over the same rows. */
    public PaddedBatch ceilingC(int k) throws Throwable {
        PaddedBatch out = outputs[k];
        long[] idx = batches[k];
        MemorySegment.copy(idx, 0, indexScratch, ValueLayout.JAVA_LONG, 0, idx.length);
        // as the native backend calls cb_pad: critically and on one thread below CRITICAL_BYTES of data
        int status = shapes[k].dataBytes() < CeilingLibrary.CRITICAL_BYTES
                ? (int) CeilingLibrary.CEILING_PAD_CRITICAL.invokeExact(store.values(), src.byteSize(), offsets,
                        indexScratch, (long) idx.length, shapes[k].length(), dtype.byteSize(), out.data(), out.lengths(),
                        out.attentionMask(), 1)
                : (int) CeilingLibrary.CEILING_PAD.invokeExact(store.values(), src.byteSize(), offsets, indexScratch,
                        (long) idx.length, shapes[k].length(), dtype.byteSize(), out.data(), out.lengths(),
                        out.attentionMask(), THREADS);
        if (status != 0) {
            throw new IllegalStateException("cb_ceiling_pad: status " + status);
        }
        return out;
    }

    public double averageOutputBytes() {
        double s = 0;
        for (long b : outputBytes) {
            s += b;
        }
        return s / outputBytes.length;
    }

    @Override
    public void close() {
        store.close();
        arena.close();
    }
}
