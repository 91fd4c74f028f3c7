package io.cubatch.bench;

import io.cubatch.collate.Collator;
import io.cubatch.store.DType;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
 * A backend and both ceilings of {@link HonestCase}, interleaved in one fork: each operation is one round of
 * three timed blocks of {@link #block} batches (the backend, {@code ceilingC}, {@code ceilingJava}), in an
 * order that goes through all six from round to round ({@link #ORDERS}), each after an untimed pause ({@link #SETTLE_NANOS}), and
 * {@link Clock} sums each one's nanoseconds over the iteration.
 * The summary (bench/honest_summary.py) takes per fork the ratio of the faster ceiling's time to the
 * backend's, over the same number of batches, and gives the median over forks and their spread.
 *
 * <p>Why: on a shared VM the speed of the host drifts by tens of percent within a minute, while
 * {@link HonestBenchmark} measures the backend and the ceiling in forks a minute apart, so its ratios carry
 * that drift (fork spreads up to 54 % in the fourth session's run). Blocks microseconds apart see the same
 * host. What the pairing costs: the three share one JIT profile and one cache, and each block's two
 * {@code System.nanoTime} calls (tens of nanoseconds, against a block of half a millisecond or more).
 *
 * <p>The blocks take consecutive batches from one cursor, so in the streaming regime each batch's tokens are
 * read by one of the three, from DRAM, and none finds them in cache after another. Allocation is not measured
 * here ({@code HonestBenchmark} with {@code -prof gc} does).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class PairedBenchmark {
    @Param({"steady", "streaming"})
    public String regime;

    @Param({"8", "64", "256", "1024"})
    public int batchSize;

    @Param({"int32"})
    public String src;

    @Param({"int32"})
    public String dtype;

    /** The backend paired with the ceilings: {@code javaBackend} or {@code nativeBackend}. */
    @Param({"javaBackend", "nativeBackend"})
    public String backend;

    /** Batches per timed block: 4096 rows' worth (512 batches of 8, 4 of 1024), half a millisecond or more. */
    int block;

    /**
     * The pause before each block, untimed: longer than the 100 us for which libcubatch's pool workers and the
     * java backend's row helper spin after their last batch. Without it, at batch 1024 (split over both cores)
     * the worker of the variant before spun on one of the two cores through the start of the next block: native
     * measured 0.72x to 0.79x of the ceiling, against 0.92x to 0.95x at batch 8 to 256. The price: a variant
     * whose split wakes a parked worker pays that wake-up once a block, as a loader does after an idle spell.
     */
    static final long SETTLE_NANOS = 300_000;

    private HonestCase c;
    private Collator collator;
    private int way;
    int cursor;
    int round;

    /**
     * Nanoseconds per variant over the iteration, and the batches each padded (the same for all three), as
     * JMH secondary metrics (summed per iteration, each fork's iterations in the JSON's rawData).
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Clock {
        public long backendNanos;
        public long ceilingCNanos;
        public long ceilingJavaNanos;
        public long batchesEach;

        @Setup(Level.Iteration)
        public void reset() {
            backendNanos = 0;
            ceilingCNanos = 0;
            ceilingJavaNanos = 0;
            batchesEach = 0;
        }
    }

    @Setup(Level.Trial)
    public void setup() {
        way = HonestCase.way(backend);
        if (way > 1) {
            throw new IllegalArgumentException("backend " + backend + ": javaBackend or nativeBackend");
        }
        collator = HonestCase.collatorFor(way);
        c = new HonestCase(regime, batchSize, DType.fromName(src).orElseThrow(), DType.fromName(dtype).orElseThrow(),
                collator);
        block = Math.max(1, 4096 / batchSize);
    }

    /** One timed block of the variant {@code w} (HonestCase.way's numbers) over the next batches. */
    private long timed(int w) throws Throwable {
        java.util.concurrent.locks.LockSupport.parkNanos(SETTLE_NANOS);
        int k = cursor;
        int n = c.batches.length;
        long t0 = System.nanoTime();
        for (int i = 0; i < block; i++) {
            c.run(w, collator, k);
            k = k + 1 == n ? 0 : k + 1;
        }
        long t = System.nanoTime() - t0;
        cursor = k;
        return t;
    }

    /**
     * The six orders of the three variants (0 the backend, 1 ceilingC, 2 ceilingJava), taken in turn: over six
     * rounds each variant runs first, second and third twice, and after each of the other two as often.
     */
    static final int[][] ORDERS = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}, {2, 1, 0}, {1, 0, 2}};

    @Benchmark
    public void round(Clock clock) throws Throwable {
        int[] order = ORDERS[round];
        round = round + 1 == ORDERS.length ? 0 : round + 1;
        for (int v : order) {
            switch (v) {
                case 0 -> clock.backendNanos += timed(way);
                case 1 -> clock.ceilingCNanos += timed(3);
                default -> clock.ceilingJavaNanos += timed(2);
            }
        }
        clock.batchesEach += block;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        collator.close();
        c.close();
    }
}
