package io.cubatch.bench;

import io.cubatch.collate.Backends;
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
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Pads one batch per operation into a reused slot ({@link HonestCase}): the java and native backends and the
 * two ceilings, in the same run, over the same batches, in the {@code steady} or {@code streaming} regime.
 * Each method runs in its own forks, so a fork's JIT profile holds one backend only. Throughput is batches
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

    private HonestCase c;
    private Collator collator;
    private int k;

    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) {
        String method = params.getBenchmark().substring(params.getBenchmark().lastIndexOf('.') + 1);
        collator = Backends.create(method.equals("nativeBackend") ? "native" : "java");
        c = new HonestCase(regime, batchSize, DType.fromName(src).orElseThrow(), DType.fromName(dtype).orElseThrow(),
                collator);
    }

    private int next() {
        int i = k;
        k = i + 1 == c.batches.length ? 0 : i + 1;
        return i;
    }

    @Benchmark
    public PaddedBatch javaBackend() {
        return c.pad(collator, next());
    }

    @Benchmark
    public PaddedBatch nativeBackend() {
        return c.pad(collator, next());
    }

    @Benchmark
    public PaddedBatch ceilingJava() {
        return c.ceilingJava(next());
    }

    @Benchmark
    public PaddedBatch ceilingC() throws Throwable {
        return c.ceilingC(next());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        collator.close();
        c.close();
    }
}
