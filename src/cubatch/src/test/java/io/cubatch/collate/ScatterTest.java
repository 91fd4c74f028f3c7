package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.LastBatch;
import io.cubatch.plan.RankRemainder;
import org.junit.jupiter.api.Test;

class ScatterTest {
    /** A step's global slots in plan order, scattered rank-major, are exactly each rank's planned batch. */
    @Test
    void rankMajorShardsAreThePlansRankBatches() {
        int world = 4;
        int b = 3;
        BatchPlan plan = BatchPlan.builder().samples(50).batchSize(b).worldSize(world).shuffle(5)
                .rankRemainder(RankRemainder.DROP).lastBatch(LastBatch.DROP).build();
        for (long step = 0; step < plan.maxSteps(); step++) {
            long[] global = new long[world * b];
            for (int j = 0; j < global.length; j++) {
                global[j] = plan.globalOrder(step * world * b + j);   // the step's slots in plan order
            }
            long[] rankMajor = Scatter.toRankMajor(global, world, b);
            for (int r = 0; r < world; r++) {
                long[] shard = java.util.Arrays.copyOfRange(rankMajor, r * b, (r + 1) * b);
                assertArrayEquals(plan.batch(r, step).samples(), shard, "step " + step + " rank " + r);
            }
        }
    }

    @Test
    void wrongSizesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Scatter.toRankMajor(new long[7], 2, 4));
        assertThrows(IllegalArgumentException.class, () -> Scatter.toRankMajor(new long[0], 0, 4));
    }
}
