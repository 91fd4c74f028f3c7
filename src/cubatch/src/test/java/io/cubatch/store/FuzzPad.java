package io.cubatch.store;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import io.cubatch.collate.Backends;
import io.cubatch.collate.Collation;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.collate.internal.NativeLibrary;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * The second half of every reader fuzz target: pads what the reader returned, through the native backend,
 * with indices and padding options the fuzzer chooses, hostile ones included (negative and past-the-end
 * indices, Long.MIN_VALUE, maxlen 2^31 and 2^63 - 1, multiples that overflow, pad values no dtype holds,
 * every output dtype), and checks it against the java backend, the oracle: the same bytes in every output
 * buffer, or the same documented exception with the same message. Anything else (another exception, a
 * difference, a crash) is a finding.
 */
final class FuzzPad {
    /** Batches above this are sized and checked, not filled: the fuzzer looks for wrong sizes, not bandwidth. */
    static final long MAX_FILL_BYTES = 1 << 20;

    /** Values near the limits the code checks: int32, 2^31, 2^32, 2^62, 2^63 - 1, and their neighbours. */
    static final long[] EDGE_LONGS = {0, 1, 2, 3, 4, 7, 8, 255, 256, 65535, 65536, Integer.MAX_VALUE - 1L,
        Integer.MAX_VALUE, 1L << 31, (1L << 31) + 1, 1L << 32, 1_000_000_000_000L, 1L << 61, 1L << 62,
        (1L << 62) + 1, Long.MAX_VALUE / 3, Long.MAX_VALUE / 2, Long.MAX_VALUE - 1, Long.MAX_VALUE, -1, Long.MIN_VALUE};

    private static final double[] EDGE_VALUES = {0, 1, -1, 2, 127, 128, 255, 256, -129, 32767, 65504, 65520, 1e38,
        3.5e38, 1e300, Double.MAX_VALUE, Double.MIN_VALUE, -0.0, 0.5, Double.NaN, Double.POSITIVE_INFINITY,
        Double.NEGATIVE_INFINITY, 9.223372036854775807e18, -9.223372036854775808e18};

    private static final Collator JAVA = Backends.create("java");
    private static final Collator NATIVE = NativeLibrary.get().isPresent() ? Backends.create("native") : null;

    private FuzzPad() {
    }

    /** Where the choices come from: the fuzzer's own data, or a generator seeded by the input (replayable). */
    interface Choices {
        /** In [0, n). */
        int below(int n);

        long anyLong();

        default boolean flag() {
            return below(2) == 1;
        }

        default long edge() {
            return EDGE_LONGS[below(EDGE_LONGS.length)];
        }

        static Choices of(FuzzedDataProvider d) {
            return new Choices() {
                @Override
                public int below(int n) {
                    return d.consumeInt(0, n - 1);
                }

                @Override
                public long anyLong() {
                    return d.consumeLong();
                }
            };
        }

        /** A generator seeded by {@code input}: the byte-array targets, whose whole input is the file. */
        static Choices seededBy(byte[] input) {
            SplittableRandom rng = new SplittableRandom(Arrays.hashCode(input) * 0x9E3779B97F4A7C15L);
            return new Choices() {
                @Override
                public int below(int n) {
                    return rng.nextInt(n);
                }

                @Override
                public long anyLong() {
                    return rng.nextLong();
                }
            };
        }
    }

    /** A copy of {@code bytes} in native memory owned by {@code arena}: the native backend reads only native memory. */
    static MemorySegment nativeCopy(byte[] bytes, Arena arena) {
        MemorySegment m = arena.allocate(Math.max(1, bytes.length), 16).asSlice(0, bytes.length);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, m, 0, bytes.length);
        return m;
    }

    /** Pads {@code store} {@code rounds} times with choices from {@code c}; see the class comment. */
    static void padHostile(SampleStore store, Choices c, int rounds) {
        for (int r = 0; r < rounds; r++) {
            padOnce(store, c);
        }
    }

    private static void padOnce(SampleStore store, Choices c) {
        long n = store.size();
        long[] indices = new long[1 + c.below(6)];
        for (int i = 0; i < indices.length; i++) {
            indices[i] = switch (c.below(10)) {
                case 0 -> -1 - c.below(2);
                case 1 -> n + c.below(2);
                case 2 -> c.edge();
                case 3 -> c.anyLong();
                default -> n == 0 ? 0 : Math.floorMod(c.anyLong(), n);
            };
        }
        Padding padding;
        try {
            padding = options(c).build();
        } catch (IllegalArgumentException refused) {
            return; // a setting the builder refuses by name (maxlen < 1, a negative multiple)
        }
        RuntimeException javaShape = failure(() -> JAVA.shape(store, indices, padding));
        if (NATIVE != null) {
            same("shape", javaShape, failure(() -> NATIVE.shape(store, indices, padding)));
        }
        if (javaShape != null) {
            documented(javaShape);
            return;
        }
        PaddedShape shape = Collation.shape(store, indices, padding);
        if (shape.totalBytes() <= MAX_FILL_BYTES) {
            fill(store, indices, padding, shape);
        }
        if (!store.isRagged() && c.flag()) {
            stack(store, indices, padding.dtype());
        }
    }

    private static Padding.Builder options(Choices c) {
        DType[] types = DType.values();
        Padding.Builder b = Padding.builder().side(c.flag() ? PadSide.PRE : PadSide.POST)
                .dtype(types[c.below(types.length)]).positions(c.flag());
        switch (c.below(5)) {
            case 1 -> b.maxlen(1 + c.below(40));
            case 2 -> b.maxlen(c.edge());
            case 3 -> b.maxlen(c.anyLong());
            default -> {
            }
        }
        switch (c.below(3)) {
            case 1 -> b.truncation(PadSide.PRE);
            case 2 -> b.truncation(PadSide.POST);
            default -> {
            }
        }
        switch (c.below(5)) {
            case 1 -> b.padToMultipleOf(1 + c.below(16));
            case 2 -> b.padToMultipleOf((int) c.edge());
            case 3 -> b.padToMultipleOf((int) c.anyLong());
            default -> {
            }
        }
        b.value(c.below(3) == 0 ? (double) c.anyLong() : EDGE_VALUES[c.below(EDGE_VALUES.length)]);
        return b;
    }

    /** Pads with both backends into separate buffers; the bytes, or the errors, must be the same. */
    private static void fill(SampleStore store, long[] indices, Padding padding, PaddedShape shape) {
        try (Arena arena = Arena.ofConfined()) {
            PaddedBatch expected = PaddedBatch.allocate(shape, arena);
            RuntimeException javaError = failure(() -> {
                JAVA.pad(store, indices, padding, expected);
                return null;
            });
            if (javaError != null) {
                documented(javaError);
            }
            if (NATIVE == null) {
                return;
            }
            PaddedBatch actual = PaddedBatch.allocate(shape, arena);
            same("pad", javaError, failure(() -> {
                NATIVE.pad(store, indices, padding, actual);
                return null;
            }));
            if (javaError == null) {
                equalBytes("data", expected.data(), actual.data());
                equalBytes("lengths", expected.lengths(), actual.lengths());
                equalBytes("attention mask", expected.attentionMask(), actual.attentionMask());
                if (shape.positions()) {
                    equalBytes("positions", expected.positions(), actual.positions());
                }
            }
        }
    }

    private static void stack(SampleStore store, long[] indices, DType dtype) {
        long rowElems = store.size() == 0 ? 0 : store.length(0) * store.features();
        if (rowElems * indices.length * dtype.byteSize() > MAX_FILL_BYTES) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            long bytes = Math.max(1, rowElems * indices.length * dtype.byteSize());
            MemorySegment expected = arena.allocate(bytes);
            MemorySegment actual = arena.allocate(bytes);
            RuntimeException javaError = failure(() -> {
                JAVA.stack(store, indices, dtype, expected);
                return null;
            });
            if (javaError != null) {
                documented(javaError);
            }
            if (NATIVE != null) {
                same("stack", javaError, failure(() -> {
                    NATIVE.stack(store, indices, dtype, actual);
                    return null;
                }));
                if (javaError == null) {
                    equalBytes("stacked", expected, actual);
                }
            }
        }
    }

    /** The exceptions a collator documents for bad indices, sizes, lengths and values. */
    private static void documented(RuntimeException e) {
        if (!(e instanceof IndexOutOfBoundsException) && !(e instanceof IllegalArgumentException)) {
            throw new AssertionError("undocumented exception from a collator: " + e, e);
        }
    }

    private static void same(String what, RuntimeException java, RuntimeException nat) {
        if (java == null && nat == null) {
            return;
        }
        if (java == null || nat == null || java.getClass() != nat.getClass()
                || !Objects.equals(java.getMessage(), nat.getMessage())) {
            AssertionError e = new AssertionError(what + ": the java backend says " + java + ", the native one " + nat);
            if (nat != null) {
                e.addSuppressed(nat);
            }
            throw e;
        }
    }

    private static void equalBytes(String what, MemorySegment expected, MemorySegment actual) {
        long at = expected.mismatch(actual);
        if (at != -1) {
            throw new AssertionError(what + ": the native backend differs from the java one at byte " + at);
        }
    }

    private static RuntimeException failure(Supplier<?> call) {
        try {
            call.get();
            return null;
        } catch (RuntimeException e) {
            return e;
        }
    }
}
