package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Method;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Issue 13's target, "0 B allocated per batch", held without timing: the heap bytes this thread allocates
 * (com.sun.management.ThreadMXBean) over warm batches, packed ({@link Collator#fillPacked} into a reused
 * {@link HostSlot}) and padded ({@link Collator#pad} into reused outputs), by the java and native backends. The
 * workload is PackBenchmark's: log-normal lengths (median 300, cap 2048), int32, rows of 2048 timesteps, 16
 * batches cycled. The bound is half the smallest object (16 B): one Optional or boxed value per batch that C2
 * does not scalar-replace fails it (a 64 B bound let an Optional per batch through, 00f983c), while what the
 * measurement itself costs (a boxed long per window) is well under a byte per batch.
 */
class SteadyStateAllocationTest {
    private static final long ROW = 2048;
    private static final int WARM_UP = 20_000;
    private static final int WINDOW = 2_000;
    /** Windows measured at most: JIT compilation on a loaded machine can still be finishing in the first. */
    private static final int WINDOWS = 5;
    private static final double BOUND = 8;

    /** Where results go, so that they escape as a caller's would. */
    static volatile Object sink;

    private interface Batch {
        Object run(int k);
    }

    @ParameterizedTest(name = "{0} backend, batch {1}, {2}")
    @CsvSource({"java, 64, packed", "java, 256, packed", "native, 64, packed", "native, 256, packed",
            "java, 64, padded", "java, 256, padded", "native, 64, padded", "native, 256, padded"})
    void aWarmBatchAllocatesNothing(String backend, int batchSize, String mode) throws Exception {
        assumeTrue(CollateTestSupport.availableBackends().contains(backend), () -> "backend " + backend + " is not"
                + " available here");
        SplittableRandom rng = new SplittableRandom(0x5eedL * 31 + batchSize);
        Padding packing = Padding.builder().side(PadSide.POST).dtype(DType.INT32).maxlen(ROW).build();
        try (Arena arena = Arena.ofShared(); Collator collator = Backends.create(backend);
             HostSlot slot = HostSlot.allocate(new PaddedShape(batchSize, ROW, 1, ROW, DType.INT32, false), batchSize,
                     packing)) {
            SampleStore store = corpus(rng, arena, Math.max(4096, 16 * batchSize));
            long[][] batches = new long[16][batchSize];
            for (long[] b : batches) {
                for (int i = 0; i < batchSize; i++) {
                    b[i] = rng.nextLong(store.size());
                }
            }
            Batch batch;
            if (mode.equals("packed")) {
                batch = k -> collator.fillPacked(slot, store, batches[k], packing);
            } else {
                Padding padding = Padding.builder().side(PadSide.POST).dtype(DType.INT32).build();
                PaddedBatch[] outputs = new PaddedBatch[batches.length];
                for (int k = 0; k < batches.length; k++) {
                    outputs[k] = PaddedBatch.allocate(collator.shape(store, batches[k], padding), arena);
                }
                batch = k -> {
                    collator.pad(store, batches[k], padding, outputs[k]);
                    return outputs[k];
                };
            }
            for (int i = 0; i < WARM_UP; i++) {
                sink = batch.run(i & 15);
            }
            double best = Double.MAX_VALUE;
            StringBuilder windows = new StringBuilder();
            for (int w = 0; w < WINDOWS && best >= BOUND; w++) {
                long before = allocatedBytes();
                for (int i = 0; i < WINDOW; i++) {
                    sink = batch.run(i & 15);
                }
                double perBatch = (double) (allocatedBytes() - before) / WINDOW;
                best = Math.min(best, perBatch);
                windows.append(windows.isEmpty() ? "" : ", ").append(String.format("%.1f", perBatch));
            }
            System.out.printf("%s %s, batch %d: bytes allocated per batch over windows of %d: [%s]%n", backend, mode,
                    batchSize, WINDOW, windows);
            assertTrue(best < BOUND, backend + " " + mode + ", batch " + batchSize + ": " + windows + " bytes allocated"
                    + " per warm batch (windows of " + WINDOW + " after " + WARM_UP + "), want < " + BOUND);
        }
    }

    /** The heap bytes this thread has allocated so far; the module does not read java.management, reflection does. */
    private static long allocatedBytes() throws Exception {
        return (long) ALLOCATED.invoke(MX);
    }

    private static final Object MX;
    private static final Method ALLOCATED;

    static {
        try {
            MX = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
            ALLOCATED = Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes");
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** PackBenchmark's corpus (HonestCase): log-normal lengths, median 300, sigma 0.6, at most 2048; int32 tokens. */
    private static SampleStore corpus(SplittableRandom rng, Arena arena, int samples) {
        MemorySegment offsets = arena.allocate(8L * (samples + 1), 8);
        long total = 0;
        for (int s = 0; s < samples; s++) {
            offsets.setAtIndex(ValueLayout.JAVA_LONG, s, total);
            double g = Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble());
            total += Math.max(1, Math.min(2048, Math.round(300 * Math.exp(0.6 * g))));
        }
        offsets.setAtIndex(ValueLayout.JAVA_LONG, samples, total);
        MemorySegment values = arena.allocate(4 * total, 64);
        for (long i = 0; i < total; i++) {
            values.setAtIndex(ValueLayout.JAVA_INT, i, rng.nextInt(50_000));
        }
        return SampleStore.wrapRagged(DType.INT32, new long[0], values, offsets);
    }
}
