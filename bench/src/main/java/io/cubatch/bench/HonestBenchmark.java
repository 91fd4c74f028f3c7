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
 * Pads one batch per operation into a reused slot ({@link HonestCase}): the java and native backends and the
 * two ceilings ({@link #variant}), in the same run, over the same batches, in the {@code steady} or
 * {@code streaming} regime. Throughput is batches
 * per second; the summary (bench/run-cpu.sh) turns it into GB/s of output and ratios to the faster ceiling.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class HonestBenchmark {
    @Param({"steady", "streaming"})
    public String regime;

    @Param({"8", "64", "256", "1024"})
    public int batchSize;

    @Param({"int32"})
    public String src;

    @Param({"int32"})
    public String dtype;

    /**
     * What pads: a backend or a ceiling. A parameter, not a method, and the last one alphabetically, so JMH runs
     * the four back to back for each workload: on a shared machine their ratios then compare measurements
     * taken within a minute of each other, not at the two ends of a half-hour run. Each value still runs in
     * its own forks, so a fork's JIT profile holds one of them.
     */
    @Param({"ceilingC", "ceilingJava", "javaBackend", "nativeBackend"})
    public String variant;

    private HonestCase c;
    private Collator collator;
    private int way;
    private int k;

    @Setup(Level.Trial)
    public void setup() {
        way = HonestCase.way(variant);
        collator = HonestCase.collatorFor(way);
        c = new HonestCase(regime, batchSize, DType.fromName(src).orElseThrow(), DType.fromName(dtype).orElseThrow(),
                collator);
    }

    private int next() {
        int i = k;
        k = i + 1 == c.batches.length ? 0 : i + 1;
        return i;
    }

    @Benchmark
    public PaddedBatch pad() throws Throwable {
        return c.run(way, collator, next());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        collator.close();
        c.close();
    }
}
