package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.store.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The builder's own checks: "no maxlen" and "no multiple" are the unset state, never a magic value. */
class PaddingTest {
    private static Padding.Builder base() {
        return Padding.builder().side(PadSide.POST).dtype(DType.INT32);
    }

    @ParameterizedTest
    @ValueSource(longs = {-1, 0, -2, Long.MIN_VALUE})
    void maxlenBelowOneIsRefusedNamingTheValueTheRangeAndTheFix(long maxlen) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> base().maxlen(maxlen).build());
        assertTrue(e.getMessage().contains("maxlen " + maxlen), e.getMessage());
        assertTrue(e.getMessage().contains("[1, " + Long.MAX_VALUE + "]"), e.getMessage());
        assertTrue(e.getMessage().contains("leave it unset"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, Integer.MIN_VALUE})
    void multipleBelowOneIsRefusedNamingTheValueTheRangeAndTheFix(int multiple) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> base().padToMultipleOf(multiple).build());
        assertTrue(e.getMessage().contains("padToMultipleOf " + multiple), e.getMessage());
        assertTrue(e.getMessage().contains("[1, " + Integer.MAX_VALUE + "]"), e.getMessage());
        assertTrue(e.getMessage().contains("leave it unset"), e.getMessage());
    }

    @Test
    void unsetMeansTheBatchLongestWithoutRounding() {
        Padding p = base().build();
        assertTrue(p.maxlen().isEmpty());
        assertEquals(0, p.padToMultipleOf());
        assertEquals(7, p.outputLength(7));
        Padding q = base().maxlen(1).padToMultipleOf(1).build();
        assertEquals(1, q.maxlen().getAsLong());
        assertEquals(1, q.padToMultipleOf());
    }
}
