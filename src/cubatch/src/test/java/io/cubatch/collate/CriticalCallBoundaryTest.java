package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.internal.NativeCollator;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * Batches on both sides of {@link NativeCollator#CRITICAL_BYTES}, where the native backend switches between its
 * critical and its ordinary cb_pad downcall, through one collator per backend: every byte as the reference writes
 * it, and a value that does not fit reported alike on both sides. The store's last sample is empty and its values
 * end exactly where the last token does, so a backend that touched an empty row's first token (libcubatch's
 * touch_rows, the java backend's row touch) would read past the store.
 */
class CriticalCallBoundaryTest {
    private static final int ROWS = 64;
    /** int32 rows of this many timesteps make a batch of exactly CRITICAL_BYTES: one fewer is just below it. */
    private static final int AT = (int) (NativeCollator.CRITICAL_BYTES / 4 / ROWS);

    /** Samples 0..ROWS-1 of AT - 1 timesteps, ROWS..2 ROWS-1 of AT, then one empty sample; value bad at (bad, 5). */
    private static SampleStore store(Arena arena, int bad) {
        int samples = 2 * ROWS + 1;
        long[] offsets = new long[samples + 1];
        for (int s = 0; s < samples; s++) {
            offsets[s + 1] = offsets[s] + (s == samples - 1 ? 0 : s < ROWS ? AT - 1 : AT);
        }
        MemorySegment values = arena.allocate(4 * offsets[samples], 4);   // exactly the tokens, not a byte more
        for (long i = 0; i < offsets[samples]; i++) {
            values.setAtIndex(ValueLayout.JAVA_INT, i, (int) (i % 30_000) - 15_000);
        }
        if (bad >= 0) {
            values.setAtIndex(ValueLayout.JAVA_INT, offsets[bad] + 5, 40_000);   // does not fit int16
        }
        MemorySegment o = arena.allocate(8L * offsets.length, 8);
        MemorySegment.copy(offsets, 0, o, ValueLayout.JAVA_LONG, 0, offsets.length);
        return SampleStore.wrapRagged(DType.INT32, new long[0], values, o);
    }

    /** Rows 0..ROWS-2 of the first (below) or second (at) group, and the empty sample last. */
    private static long[] batch(boolean at) {
        long[] indices = new long[ROWS];
        for (int b = 0; b < ROWS - 1; b++) {
            indices[b] = (at ? ROWS : 0) + (b * 5L) % ROWS;
        }
        indices[ROWS - 1] = 2 * ROWS;
        return indices;
    }

    @Test
    void bothSidesOfTheBoundaryWriteTheReferenceBytes() {
        try (Arena arena = Arena.ofShared()) {
            SampleStore store = store(arena, -1);
            for (String backend : CollateTestSupport.availableBackends()) {
                try (Collator c = Backends.create(backend)) {
                    for (int round = 0; round < 8; round++) {
                        boolean at = round % 2 == 1;
                        long[] indices = batch(at);
                        Padding padding = Padding.builder().side(round % 4 < 2 ? PadSide.POST : PadSide.PRE)
                                .dtype(round < 4 ? DType.INT32 : DType.FLOAT32).value(round % 3 == 0 ? 0 : -3)
                                .positions(round == 5).build();
                        PaddedShape shape = c.shape(store, indices, padding);
                        assertEquals(at ? NativeCollator.CRITICAL_BYTES : NativeCollator.CRITICAL_BYTES - 4 * ROWS,
                                shape.dataBytes(), "the batch sits where the test means it to: " + shape);
                        PaddedBatch want = PaddedBatch.allocate(shape, arena);
                        CollateTestSupport.reference(store, indices, padding, want);
                        CollateTestSupport.Guarded got = CollateTestSupport.Guarded.allocate(shape, arena);
                        c.pad(store, indices, padding, got.batch());
                        String what = backend + " round " + round + " " + shape;
                        CollateTestSupport.assertSameBatch(want, got.batch(), what);
                        assertTrue(got.guardsIntact(), what + ": wrote outside its output");
                    }
                }
            }
        }
    }

    @Test
    void aValueThatDoesNotFitIsReportedAlikeOnBothSides() {
        Padding int16 = Padding.builder().side(PadSide.POST).dtype(DType.INT16).build();
        try (Arena arena = Arena.ofShared()) {
            for (boolean at : new boolean[] {false, true}) {
                long[] indices = batch(at);
                int row = 7;
                SampleStore store = store(arena, (int) indices[row]);
                for (String backend : CollateTestSupport.availableBackends()) {
                    try (Collator c = Backends.create(backend)) {
                        PaddedShape shape = c.shape(store, indices, int16);
                        PaddedBatch out = PaddedBatch.allocate(shape, arena);
                        CollateException e = assertThrows(CollateException.class, () -> c.pad(store, indices, int16, out));
                        assertTrue(e.getMessage().startsWith("sample " + indices[row] + " (batch row " + row
                                + "), timestep 5"), backend + (at ? " at" : " below") + " the boundary: " + e.getMessage());
                    }
                }
            }
        }
    }
}
