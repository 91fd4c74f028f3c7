package io.cubatch.cli;

import io.cubatch.collate.CollateException;
import io.cubatch.collate.Collation;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.collate.Values;
import io.cubatch.loader.BatchLoader;
import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.PlannedBatch;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * What the collator would refuse in a {@code run}, found before {@code run} prints anything, so that bad data is
 * exit code 2 with one line on stderr and nothing on stdout. It visits every batch this rank loads, in every
 * epoch (the first only, when unshuffled: the others are the same), and checks each as the collator does, with
 * the collator's own messages: lengths against {@code maxlen} without a truncation side
 * ({@link Collation#shape}), and, only when the stored dtype can hold a value the output dtype cannot, each value
 * the batch keeps after truncation ({@link Conversions#convert}, the collator's conversion). That value check
 * costs one read of the tokens per checked epoch; for same-width or widening conversions (int32 tokens to
 * int32, uint16 to int32) there is none. Samples the plan drops, and timesteps truncation removes, are not
 * checked, as the run never reads them.
 */
final class RunPreflight {
    private RunPreflight() {
    }

    /** @throws CollateException as the loader's collator would, naming the sample, the value and the fix */
    static void check(SampleStore store, BatchLoader loader, int rank, int epochs, Padding padding) {
        boolean values = canFail(store.dtype(), padding.dtype());
        long features = Math.max(1, store.features());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment scratch = arena.allocate(8, 8);
            for (int e = 0; e < epochs; e++) {
                BatchPlan plan = loader.plan(e);
                for (PlannedBatch b : plan.batches(rank)) {
                    long[] indices = b.samples();
                    PaddedShape shape = Collation.shape(store, indices, padding);   // lengths vs maxlen
                    if (values) {
                        checkValues(store, indices, padding, shape, features, scratch);
                    }
                }
                if (!plan.shuffled()) {
                    break;
                }
            }
        }
    }

    private static void checkValues(SampleStore store, long[] indices, Padding padding, PaddedShape shape,
                                    long features, MemorySegment scratch) {
        MemorySegment src = store.values();
        DType from = store.dtype();
        DType to = padding.dtype();
        boolean integers = !from.isFloatingPoint() && !to.isFloatingPoint();
        long min = integers ? Values.intRange(to)[0] : 0;
        long max = integers ? Values.intRange(to)[1] : 0;
        for (int row = 0; row < indices.length; row++) {
            long n = store.length(indices[row]);
            long keep = Collation.keep(n, shape.limit());
            long first = (store.offset(indices[row]) + Collation.skip(n, shape.limit(), padding)) * features;
            long end = first + keep * features;
            for (long i = first; i < end; i++) {
                boolean fits;
                if (integers) {             // the common case (int64 JSONL tokens to int32): a range test
                    long v = Values.loadLong(src, from, i);
                    fits = v >= min && v <= max;
                } else {
                    fits = Values.convert(src, from, i, scratch, to, 0);
                }
                if (!fits) {
                    long start = Collation.start(keep, shape.length(), padding);
                    long flat = (row * shape.length() + start) * features + (i - first);
                    throw Collation.valueDoesNotFit(store, indices, padding, shape, flat);
                }
            }
        }
    }

    /** Whether some value of {@code from} does not fit {@code to} (the rules of cuda/cb_convert.cuh). */
    static boolean canFail(DType from, DType to) {
        if (from == to) {
            return false;
        }
        if (from.isFloatingPoint() && !to.isFloatingPoint()) {
            return true;                                       // fractions, NaN, range
        }
        if (!from.isFloatingPoint() && !to.isFloatingPoint()) {
            long[] f = Values.intRange(from);
            long[] t = Values.intRange(to);
            return f[0] < t[0] || f[1] > t[1];
        }
        double largest = from.isFloatingPoint() ? largestFinite(from)
                : Math.max(-(double) Values.intRange(from)[0], Values.intRange(from)[1]);
        return largest > largestFinite(to);                    // a finite value that overflows
    }

    private static double largestFinite(DType t) {
        return switch (t) {
            case FLOAT16 -> 65504.0;
            case BFLOAT16 -> 0x1.FEp127;
            case FLOAT32 -> Float.MAX_VALUE;
            default -> Double.MAX_VALUE;
        };
    }
}
