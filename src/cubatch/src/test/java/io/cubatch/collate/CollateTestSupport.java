package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cubatch.collate.internal.Conversions;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Test helpers shared by the collation tests here and the cuda backend's tests. */
public final class CollateTestSupport {
    static final byte SENTINEL = (byte) 0xA5;
    static final int GUARD = 16;

    private CollateTestSupport() {
    }

    /** A small integer (or half-integer for float32) when {@code nice}, else random bits, as an element of t. */
    public static void randomElement(SplittableRandom rng, MemorySegment values, DType t, long i, boolean nice) {
        long small = rng.nextInt(-3, 101);
        switch (t) {
            // bool: any byte when not nice, as a hand-written .npy may hold; it reads as 0 or 1 (NumPy)
            case BOOL -> values.set(ValueLayout.JAVA_BYTE, i, (byte) (nice ? rng.nextInt(2) : rng.nextInt()));
            case INT8, UINT8 -> values.set(ValueLayout.JAVA_BYTE, i, (byte) (nice ? small : rng.nextInt()));
            case INT16, UINT16 -> values.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) (nice ? small : rng.nextInt()));
            case INT32 -> values.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, nice ? (int) small : rng.nextInt());
            case INT64 -> values.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, nice ? small : rng.nextLong());
            case FLOAT16 -> values.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i,
                    nice ? Float.floatToFloat16(small) : (short) rng.nextInt());
            case BFLOAT16 -> values.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i,
                    nice ? (short) (Float.floatToRawIntBits(small) >>> 16) : (short) rng.nextInt());
            case FLOAT32 -> values.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i,
                    nice ? small + (rng.nextBoolean() ? 0.5f : 0f) : Float.intBitsToFloat(rng.nextInt()));
            case FLOAT64 -> values.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i,
                    nice ? small : Double.longBitsToDouble(rng.nextLong()));
        }
    }

    public static SampleStore randomStore(SplittableRandom rng, Arena arena, DType t, int samples, int maxLen, int features,
                                   boolean nice) {
        MemorySegment offsets = arena.allocate(8L * (samples + 1), 8);
        long total = 0;
        for (int s = 0; s < samples; s++) {
            offsets.setAtIndex(ValueLayout.JAVA_LONG, s, total);
            total += rng.nextInt(maxLen + 1);
        }
        offsets.setAtIndex(ValueLayout.JAVA_LONG, samples, total);
        MemorySegment values = arena.allocate(Math.max(1, total * features * t.byteSize()), 16)
                .asSlice(0, total * features * t.byteSize());
        for (long i = 0; i < total * features; i++) {
            randomElement(rng, values, t, i, nice || rng.nextInt(10) < 6);
        }
        return SampleStore.wrapRagged(t, features == 1 ? new long[0] : new long[] {features}, values, offsets);
    }

    /** Every backend available here, each checked against the reference. */
    static List<String> availableBackends() {
        List<String> out = new ArrayList<>();
        for (Backends.Backend b : Backends.all()) {
            if (b.available()) {
                out.add(b.name());
            } else if (b.name().equals("cuda") && "required".equals(System.getProperty("cubatch.emulator"))
                    && CollateTestSupport.class.getResource("/io/cubatch/cuda/cubatch.fatbin") != null) {
                throw new AssertionError("the cuda backend must be present under the CUDA driver emulator: " + b.reason());
            }
        }
        return out;
    }

    /** Output buffers filled with a sentinel, each with guard bytes on both sides. */
    record Guarded(PaddedBatch batch, MemorySegment data, MemorySegment lengths, MemorySegment mask,
                   MemorySegment positions) {
        static Guarded allocate(PaddedShape shape, Arena arena) {
            MemorySegment d = sentinel(arena, shape.dataBytes());
            MemorySegment l = sentinel(arena, shape.lengthsBytes());
            MemorySegment m = sentinel(arena, shape.maskBytes());
            MemorySegment p = sentinel(arena, shape.positionsBytes());
            return new Guarded(new PaddedBatch(shape, inner(d, shape.dataBytes()), inner(l, shape.lengthsBytes()),
                    inner(m, shape.maskBytes()), shape.positions() ? inner(p, shape.positionsBytes()) : MemorySegment.NULL),
                    d, l, m, p);
        }

        /** The guard bytes are untouched. */
        boolean guardsIntact() {
            for (MemorySegment s : new MemorySegment[] {data, lengths, mask, positions}) {
                for (int i = 0; i < GUARD; i++) {
                    if (s.get(ValueLayout.JAVA_BYTE, i) != SENTINEL
                            || s.get(ValueLayout.JAVA_BYTE, s.byteSize() - 1 - i) != SENTINEL) {
                        return false;
                    }
                }
            }
            return true;
        }
    }

    private static MemorySegment sentinel(Arena arena, long bytes) {
        MemorySegment s = arena.allocate(bytes + 2 * GUARD, 16);
        s.fill(SENTINEL);
        return s;
    }

    private static MemorySegment inner(MemorySegment s, long bytes) {
        return s.asSlice(GUARD, bytes);
    }

    /** The two batches hold the same bytes: data, lengths, mask, and positions where the shape has them. */
    public static void assertSameBatch(PaddedBatch expected, PaddedBatch actual, String what) {
        assertEquals(-1, expected.data().mismatch(actual.data()), what + ": data");
        assertEquals(-1, expected.lengths().mismatch(actual.lengths()), what + ": lengths");
        assertEquals(-1, expected.attentionMask().mismatch(actual.attentionMask()), what + ": mask");
        if (expected.shape().positions()) {
            assertEquals(-1, expected.positions().mismatch(actual.positions()), what + ": positions");
        }
    }

    /**
     * The plain, obviously-correct reference: every output element straight from the definition
     * (Keras pad_sequences with explicit sides), in flat order. Throws the same CollateException the
     * backends must throw for the first value that does not fit.
     */
    static void reference(SampleStore store, long[] indices, Padding padding, PaddedBatch out) {
        PaddedShape shape = Collation.shape(store, indices, padding);
        MemorySegment pad = MemorySegment.ofArray(new long[1]);
        Collation.padValue(padding, pad);
        DType dst = shape.dtype();
        int size = dst.byteSize();
        long l = shape.length();
        long f = shape.features();
        for (int b = 0; b < indices.length; b++) {
            long s = indices[b];
            long n = store.length(s);
            long keep = Math.min(n, shape.limit());
            long srcFirst = n > shape.limit() && padding.truncation().orElseThrow() == PadSide.PRE ? n - shape.limit() : 0;
            long dstFirst = padding.side() == PadSide.PRE ? l - keep : 0;
            for (long t = 0; t < l; t++) {
                boolean real = t >= dstFirst && t < dstFirst + keep;
                for (long k = 0; k < f; k++) {
                    long o = (b * l + t) * f + k;
                    if (!real) {
                        MemorySegment.copy(pad, 0, out.data(), o * size, size);
                    } else {
                        long src = (store.offset(s) + srcFirst + (t - dstFirst)) * f + k;
                        if (store.dtype() == dst && dst != DType.BOOL) {   // bool bytes normalise to 0 or 1
                            MemorySegment.copy(store.values(), src * size, out.data(), o * size, size);
                        } else if (!Conversions.convert(store.values(), store.dtype(), src, out.data(), dst, o)) {
                            throw Collation.valueDoesNotFit(store, indices, padding, shape, o);
                        }
                    }
                }
                out.attentionMask().set(ValueLayout.JAVA_BYTE, b * l + t, (byte) (real ? 1 : 0));
                if (shape.positions()) {
                    out.positions().setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, b * l + t, real ? (int) (t - dstFirst) : 0);
                }
            }
            out.lengths().setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, b, (int) keep);
        }
    }
}
