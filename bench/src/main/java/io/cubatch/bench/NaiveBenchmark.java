package io.cubatch.bench;

import io.cubatch.store.DType;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
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

/**
 * The baseline: padding as users write it in Java, {@code List<int[]>} to a fresh {@code int[][]} and a
 * fresh mask per batch (int32 only: Java has no float16 array type).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class NaiveBenchmark {
    @Param({"8", "64", "256", "1024"})
    public int batchSize;

    @Param({"uniform", "lognormal", "bimodal"})
    public String distribution;

    private List<int[]> samples;
    private long[][] batches;
    private int k;

    @Setup(Level.Trial)
    public void setup() {
        try (Workload w = new Workload(distribution, batchSize, DType.INT32)) {
            samples = new ArrayList<>();
            for (long i = 0; i < w.store.size(); i++) {
                samples.add(w.store.sample(i).toArray(ValueLayout.JAVA_INT));
            }
            batches = w.batches;
        }
    }

    /** The padded batch and its mask, as a pair. */
    public record Padded(int[][] data, byte[][] mask) {
    }

    @Benchmark
    public Padded pad() {
        long[] batch = batches[k++ & (Workload.BATCHES - 1)];
        List<int[]> rows = new ArrayList<>(batch.length);
        int longest = 0;
        for (long i : batch) {
            int[] s = samples.get((int) i);
            rows.add(s);
            longest = Math.max(longest, s.length);
        }
        int[][] data = new int[rows.size()][longest];
        byte[][] mask = new byte[rows.size()][longest];
        for (int r = 0; r < rows.size(); r++) {
            int[] s = rows.get(r);
            System.arraycopy(s, 0, data[r], 0, s.length);
            java.util.Arrays.fill(mask[r], 0, s.length, (byte) 1);
        }
        return new Padded(data, mask);
    }
}
