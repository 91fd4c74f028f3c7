package io.cubatch.plan;

import static io.cubatch.plan.PlanTestSupport.all;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The worked tables in the Javadoc of {@link RankRemainder} and {@link LastBatch}: 10 samples, 4 ranks, batch 2. */
class PolicyTablesTest {
    private static BatchPlan plan(RankRemainder rr, LastBatch lb) {
        return BatchPlan.builder().samples(10).worldSize(4).batchSize(2).rankRemainder(rr).lastBatch(lb).build();
    }

    private static List<List<Long>> l(long[]... batches) {
        return java.util.Arrays.stream(batches).map(b -> java.util.Arrays.stream(b).boxed().toList()).toList();
    }

    @Test
    void rankRemainderPad() {
        BatchPlan p = plan(RankRemainder.PAD, LastBatch.PARTIAL);
        assertEquals(List.of(l(new long[] {0, 4}, new long[] {8}), l(new long[] {1, 5}, new long[] {9}),
                l(new long[] {2, 6}, new long[] {0}), l(new long[] {3, 7}, new long[] {1})), all(p));
        assertTrue(p.batch(2, 1).isRepeat(0) && p.batch(3, 1).isRepeat(0));
        assertEquals(2, p.maxSteps());
        assertEquals(2, p.minSteps());
    }

    @Test
    void rankRemainderDrop() {
        BatchPlan p = plan(RankRemainder.DROP, LastBatch.PARTIAL);
        assertEquals(List.of(l(new long[] {0, 4}), l(new long[] {1, 5}), l(new long[] {2, 6}), l(new long[] {3, 7})),
                all(p));
        assertEquals(2, p.explain().totalDropped());
    }

    @Test
    void rankRemainderPartial() {
        BatchPlan p = plan(RankRemainder.PARTIAL, LastBatch.PARTIAL);
        assertEquals(List.of(l(new long[] {0, 4}, new long[] {8}), l(new long[] {1, 5}, new long[] {9}),
                l(new long[] {2, 6}), l(new long[] {3, 7})), all(p));
        assertEquals(2, p.steps(0));
        assertEquals(1, p.steps(3));
        assertEquals(0, p.explain().totalRepeated() + p.explain().totalDropped());
    }

    @Test
    void lastBatchPartial() {
        BatchPlan p = plan(RankRemainder.PAD, LastBatch.PARTIAL);
        assertTrue(p.explain().warnings().stream().anyMatch(w -> w.contains("BatchNorm")));
    }

    @Test
    void lastBatchDrop() {
        BatchPlan p = plan(RankRemainder.PAD, LastBatch.DROP);
        assertEquals(List.of(l(new long[] {0, 4}), l(new long[] {1, 5}), l(new long[] {2, 6}), l(new long[] {3, 7})),
                all(p));
        // 8 and 9 are dropped; the padding repeats 0 and 1 fall off too but were seen on ranks 0 and 1
        assertArrayEquals(new long[] {8}, p.explain().ranks().get(0).dropped());
        assertArrayEquals(new long[] {}, p.explain().ranks().get(2).dropped());
    }

    @Test
    void lastBatchFill() {
        BatchPlan p = plan(RankRemainder.PAD, LastBatch.FILL);
        assertEquals(List.of(l(new long[] {0, 4}, new long[] {8, 8}), l(new long[] {1, 5}, new long[] {9, 9}),
                l(new long[] {2, 6}, new long[] {0, 0}), l(new long[] {3, 7}, new long[] {1, 1})), all(p));
        for (int r = 0; r < 4; r++) {
            PlannedBatch last = p.batch(r, 1);
            assertEquals(1, last.filled());
            assertTrue(last.isFill(1));
        }
    }
}
