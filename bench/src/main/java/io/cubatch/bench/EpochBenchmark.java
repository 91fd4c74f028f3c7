package io.cubatch.bench;

import io.cubatch.collate.Collator;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.store.DType;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One full epoch per operation: every batch of one seeded permutation of a 16,384-sample log-normal corpus
 * (256 batches of 64), padded into one reused slot, by each backend and each ceiling ({@link HonestCase},
 * regime {@code epoch}). Average time per epoch.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class EpochBenchmark {
    @Param({"64"})
    public int batchSize;

    @Param({"int32"})
    public String dtype;

    /** What pads (as in {@link HonestBenchmark#variant}): the four run back to back, each in its own forks. */
    @Param({"ceilingC", "ceilingJava", "javaBackend", "nativeBackend"})
    public String variant;

    private HonestCase c;
    private Collator collator;
    private int way;

    @Setup(Level.Trial)
    public void setup() {
        way = HonestCase.way(variant);
        collator = HonestCase.collatorFor(way);
        c = new HonestCase("epoch", batchSize, DType.INT32, DType.fromName(dtype).orElseThrow(), collator);
    }

    @Benchmark
    public PaddedBatch epoch() throws Throwable {
        PaddedBatch last = null;
        for (int k = 0; k < c.batches.length; k++) {
            last = c.run(way, collator, k);
        }
        return last;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        collator.close();
        c.close();
    }
}
