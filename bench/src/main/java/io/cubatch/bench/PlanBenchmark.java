package io.cubatch.bench;

import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.LastBatch;
import io.cubatch.plan.PlannedBatch;
import io.cubatch.plan.RankRemainder;
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

/** The plan's cost per batch: the shuffled sample ids of one step of one rank, computed on demand. */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class PlanBenchmark {
    @Param({"8", "64", "256", "1024"})
    public int batchSize;

    private BatchPlan plan;
    private long step;

    @Setup(Level.Trial)
    public void setup() {
        plan = BatchPlan.builder().samples(10_000_000).batchSize(batchSize).worldSize(8).shuffle(1)
                .rankRemainder(RankRemainder.PAD).lastBatch(LastBatch.PARTIAL).build();
    }

    @Benchmark
    public PlannedBatch batch() {
        long s = step++ % plan.steps(3);
        return plan.batch(3, s);
    }
}
