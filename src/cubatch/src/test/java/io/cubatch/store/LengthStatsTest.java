package io.cubatch.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class LengthStatsTest {
    @Property(tries = 300)
    void medianMinMaxEqualSorting(@ForAll @Size(min = 1, max = 200) java.util.List<@IntRange(min = 0, max = 200_000) Integer> lengths) {
        int[][] seqs = lengths.stream().map(int[]::new).toArray(int[][]::new);
        try (SampleStore s = SampleStore.of(seqs)) {
            LengthStats st = LengthStats.of(s);
            long[] sorted = lengths.stream().mapToLong(Integer::longValue).sorted().toArray();
            assertEquals(sorted[0], st.min());
            assertEquals(sorted[sorted.length - 1], st.max());
            assertEquals(sorted[(sorted.length - 1) / 2], st.median());
            assertEquals(Arrays.stream(sorted).sum(), st.totalTokens());
        }
    }

    @Test
    void emptyAndFixedStores() {
        try (SampleStore s = SampleStore.of(new int[0][])) {
            assertEquals(new LengthStats(0, 0, 0, 0, 0), LengthStats.of(s));
        }
        try (SampleStore s = SampleStore.of(new int[][] {{}, {1, 2}})) {
            assertEquals(new LengthStats(2, 0, 0, 2, 2), LengthStats.of(s));
        }
    }
}
