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
                }
                clock.reset();
                assertEquals(0, clock.backendNanos + clock.ceilingCNanos + clock.ceilingJavaNanos + clock.batchesEach);
            } finally {
                b.tearDown();
            }
        }
    }

    @Test
    void aCeilingIsNotABackend() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bench("ceilingC", 8).setup());
        assertTrue(e.getMessage().contains("javaBackend or nativeBackend"), e.getMessage());
    }
}
