package io.cubatch.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The probe's search against a simulated device: a batch fits when its bytes stay under a capacity. */
class ProbeSearchTest {

    @Test
    void findsTheExactLargestBatchInLogarithmicTrials() {
        SplittableRandom rng = new SplittableRandom(17);
        for (int i = 0; i < 2000; i++) {
            long perSample = rng.nextLong(1, 1 << 20);
            long capacity = rng.nextLong(0, 1L << 36);
            long max = rng.nextInt(4) == 0 ? rng.nextLong(1, 5000) : 1L << 30;
            ProbeSearch.Result r = ProbeSearch.largest(max, b -> b * perSample <= capacity);
            long expected = Math.min(max, capacity / perSample);
            assertEquals(expected, r.largest(), "capacity " + capacity + ", " + perSample + " per sample, max " + max);
            int bound = 2 * (64 - Long.numberOfLeadingZeros(Math.max(1, expected))) + 2;
            assertTrue(r.trials().size() <= bound, r.trials().size() + " trials for " + expected);
            for (ProbeSearch.Trial t : r.trials()) {
                assertEquals(t.batch() * perSample <= capacity, t.fits(), "trial " + t + " reported as it went");
                assertTrue(t.batch() >= 1 && t.batch() <= max);
            }
        }
    }

    @Test
    void zeroWhenNotEvenOneFitsAndMaxIsRespected() {
        ProbeSearch.Result none = ProbeSearch.largest(1 << 20, b -> false);
        assertEquals(0, none.largest());
        assertEquals(1, none.trials().size());
        assertEquals(1000, ProbeSearch.largest(1000, b -> true).largest());
        assertEquals(1, ProbeSearch.largest(1, b -> true).largest());
        assertThrows(IllegalArgumentException.class, () -> ProbeSearch.largest(0, b -> true));
    }
}
