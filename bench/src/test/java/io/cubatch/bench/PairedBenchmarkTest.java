package io.cubatch.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** PairedBenchmark's rounds: what each variant is timed over (no figure: those come from JMH runs only). */
class PairedBenchmarkTest {
    private static PairedBenchmark bench(String backend, int batchSize) {
        PairedBenchmark b = new PairedBenchmark();
        b.regime = "steady";
        b.batchSize = batchSize;
        b.src = "int32";
        b.dtype = "bfloat16";
        b.backend = backend;
        return b;
    }

    /** Three rounds: every variant timed in each, over the same number of batches, each from the cursor on. */
    @Test
    void eachRoundTimesTheBackendAndBothCeilingsOverBatchesOfTheirOwn() throws Throwable {
        for (String backend : new String[] {"javaBackend", "nativeBackend"}) {
            PairedBenchmark b = bench(backend, 1024);
            b.setup();
            try {
                assertEquals(4, b.block, "4096 rows a block");
                PairedBenchmark.Clock clock = new PairedBenchmark.Clock();
                for (int r = 1; r <= 3; r++) {
                    long[] before = {clock.backendNanos, clock.ceilingCNanos, clock.ceilingJavaNanos};
                    b.round(clock);
                    assertTrue(clock.backendNanos > before[0] && clock.ceilingCNanos > before[1]
                            && clock.ceilingJavaNanos > before[2], backend + ": round " + r + " timed all three");
                    assertEquals(r * b.block, clock.batchesEach);
                    assertEquals(3 * r * b.block % 16, b.cursor, "each block takes the next batches of the 16");
                    assertEquals(r % PairedBenchmark.ORDERS.length, b.round, "the next round takes the next order");
                }
                clock.reset();
                assertEquals(0, clock.backendNanos + clock.ceilingCNanos + clock.ceilingJavaNanos + clock.batchesEach);
            } finally {
                b.tearDown();
            }
        }
    }

    /** Six rounds take every order once: each variant first, second and third twice, and twice after each other one. */
    @Test
    void sixRoundsTakeEveryOrderOfTheThree() {
        java.util.Set<String> seen = new java.util.HashSet<>();
        int[][] position = new int[3][3];
        int[][] after = new int[3][3];
        for (int[] o : PairedBenchmark.ORDERS) {
            seen.add(java.util.Arrays.toString(o));
            for (int i = 0; i < 3; i++) {
                position[o[i]][i]++;
                if (i > 0) {
                    after[o[i]][o[i - 1]]++;
                }
            }
        }
        assertEquals(6, seen.size(), "six different orders");
        for (int v = 0; v < 3; v++) {
            for (int i = 0; i < 3; i++) {
                assertEquals(2, position[v][i], "variant " + v + " at place " + i);
                assertEquals(v == i ? 0 : 2, after[v][i], "variant " + v + " right after " + i);
            }
        }
    }

    @Test
    void aCeilingIsNotABackend() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bench("ceilingC", 8).setup());
        assertTrue(e.getMessage().contains("javaBackend or nativeBackend"), e.getMessage());
    }
}
