package io.cubatch.bench;

import io.cubatch.collate.Backends;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.store.DType;
import java.lang.foreign.Arena;
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
 * Pads one batch (of {@link Workload#BATCHES}, in turn) per operation into a reused output: the steady
 * state of a loader. Throughput is batches per second; the summary turns it into GB/s of output.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class PadBenchmark {
    @Param({"8", "64", "256", "1024"})
    public int batchSize;

    @Param({"uniform", "lognormal", "bimodal"})
    public String distribution;

    @Param({"int32", "float16"})
    public String dtype;

    @Param({"java", "native"})
    public String backend;

    private Workload w;
    private Collator collator;
    private Arena arena;
    private PaddedBatch[] outputs;
    private int k;

    @Setup(Level.Trial)
    public void setup() {
        w = new Workload(distribution, batchSize, DType.fromName(dtype).orElseThrow());
        collator = Backends.create(backend);
        arena = Arena.ofShared();
        PaddedShape[] shapes = new PaddedShape[Workload.BATCHES];
        PaddedShape max = null;
        for (int i = 0; i < Workload.BATCHES; i++) {
            shapes[i] = collator.shape(w.store, w.batches[i], w.padding);
            if (max == null || shapes[i].dataBytes() > max.dataBytes()) {
                max = shapes[i];
            }
        }
        // one buffer, sized once for the largest batch, viewed with each batch's shape (as a loader slot is)
        PaddedBatch largest = PaddedBatch.allocate(max, arena);
        outputs = new PaddedBatch[Workload.BATCHES];
        for (int i = 0; i < Workload.BATCHES; i++) {
            outputs[i] = largest.withShape(shapes[i]);
        }
    }

    @Benchmark
    public PaddedBatch pad() {
        int i = k++ & (Workload.BATCHES - 1);
        collator.pad(w.store, w.batches[i], w.padding, outputs[i]);
        return outputs[i];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        collator.close();
        arena.close();
        w.close();
    }
}
