package io.cubatch.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cubatch.collate.Backends;
import io.cubatch.collate.CollateException;
import io.cubatch.collate.CollateTestSupport;
import io.cubatch.collate.Collation;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.collate.internal.NativeLibrary;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * The compact layout the cuda backend sends (real tokens + offsets, truncated on the host) is read by the
 * same kernel math with {@code indices = NULL}, {@code limit = L} and no truncation side. Without a GPU the
 * CPU twin (libcubatch) reads it exactly as the kernel does: its bytes must equal the java backend's for
 * the original store and indices, for every dtype pair, side, truncation and feature count.
 */
class CompactLayoutPropertyTest {

    @Property(tries = 300)
    void theCompactLayoutPadsToTheJavaBackendsBytes(@ForAll long seed) throws Throwable {
        NativeLibrary lib = NativeLibrary.get().orElseThrow(() -> new AssertionError(NativeLibrary.unavailableReason()));
        SplittableRandom rng = new SplittableRandom(seed);
        DType[] types = DType.values();
        try (Arena arena = Arena.ofConfined(); Collator java = Backends.create("java")) {
            DType src = types[rng.nextInt(types.length)];
            int features = rng.nextInt(3) == 0 ? 1 + rng.nextInt(3) : 1;
            SampleStore store = CollateTestSupport.randomStore(rng, arena, src, 1 + rng.nextInt(12), rng.nextInt(16),
                    features, true);
            long[] indices = rng.longs(1 + rng.nextInt(9), 0, store.size()).toArray();
            Padding.Builder p = Padding.builder().side(rng.nextBoolean() ? PadSide.PRE : PadSide.POST)
                    .dtype(types[rng.nextInt(types.length)]).positions(rng.nextBoolean()).value(rng.nextInt(2));
            if (rng.nextBoolean()) {
                p.maxlen(1 + rng.nextInt(12));
            }
            if (rng.nextInt(3) == 0) {
                p.padToMultipleOf(1 + rng.nextInt(5));
            }
            p.truncation(rng.nextBoolean() ? PadSide.PRE : PadSide.POST);
            Padding padding = p.build();
            PaddedShape shape = Collation.shape(store, indices, padding);

            PaddedBatch expected = PaddedBatch.allocate(shape, arena);
            String expectedError = null;
            try {
                java.pad(store, indices, padding, expected);
            } catch (CollateException e) {
                expectedError = e.getMessage();
            }

            CompactLayout layout = CompactLayout.of(store, indices, padding, shape);
            MemorySegment staged = arena.allocate(layout.bytes(), 8);
            layout.write(store, staged);
            PaddedBatch actual = PaddedBatch.allocate(shape, arena);
            MemorySegment pad = arena.allocate(8, 8);
            Collation.padValue(padding, pad);
            MemorySegment error = arena.allocate(8, 8);
            MemorySegment positions = shape.positions() ? actual.positions() : MemorySegment.NULL;
            int status = (int) lib.pad.invokeExact(staged.asSlice(layout.offsetBytes()), src.ordinal(),
                    staged.asSlice(0, layout.offsetBytes()), 0L, store.features(), 0L,
                    (long) indices.length, shape.length(), shape.length(), padding.side() == PadSide.PRE ? 0 : 1, 2,
                    shape.dtype().ordinal(), pad.address(), actual.data(), actual.lengths(), actual.attentionMask(),
                    positions, 1, error.address());
            if (expectedError != null) {
                assertEquals(1, status, "a value that does not fit: " + expectedError);
                String msg = expectedError;
                CollateException e = assertThrows(CollateException.class, () -> {
                    throw Collation.valueDoesNotFit(store, indices, padding, shape, error.get(ValueLayout.JAVA_LONG, 0));
                });
                assertEquals(msg, e.getMessage(), "the compact error index maps to the same message");
                return;
            }
            assertEquals(0, status);
            assertEquals(-1, expected.data().mismatch(actual.data()), "data");
            assertEquals(-1, expected.lengths().mismatch(actual.lengths()), "lengths");
            assertEquals(-1, expected.attentionMask().mismatch(actual.attentionMask()), "mask");
            if (shape.positions()) {
                assertEquals(-1, expected.positions().mismatch(actual.positions()), "positions");
            }
        }
    }
}
