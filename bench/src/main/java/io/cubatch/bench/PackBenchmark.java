package io.cubatch.bench;

import io.cubatch.collate.Backends;
import io.cubatch.collate.Collator;
import io.cubatch.collate.HostSlot;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
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
 * Packing against padding the same batches ({@link HonestCase}, steady regime, int32): per operation one batch,
 * packed into rows of 2048 timesteps in a reused {@link HostSlot} ({@code Collator.fillPacked}), or padded to
 * its longest into the reused slot ({@code Collator.pad}), by the backend the method names. The same samples
 * per operation, so the ratio of batches per second is the ratio of samples per second (target: packing
 * at least 0.5x of unpacked).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class PackBenchmark {
    static final long ROW = 2048;

    @Param({"64", "256"})
    public int batchSize;

    /** Packed or padded, by which backend: the four run back to back for each batch size. */
    @Param({"javaPacked", "javaUnpacked", "nativePacked", "nativeUnpacked"})
    public String variant;

    private HonestCase c;
    private Collator collator;
    private HostSlot slot;
    private Padding packing;
    private boolean packed;
    private int k;

    @Setup(Level.Trial)
    public void setup() {
        if (!java.util.List.of("javaPacked", "javaUnpacked", "nativePacked", "nativeUnpacked").contains(variant)) {
            throw new IllegalArgumentException("variant " + variant + ": javaPacked, javaUnpacked, nativePacked or"
                    + " nativeUnpacked");
        }
        packed = variant.endsWith("Packed") && !variant.endsWith("Unpacked");
        collator = Backends.create(variant.startsWith("native") ? "native" : "java");
        c = new HonestCase("steady", batchSize, DType.INT32, DType.INT32, collator);
        packing = Padding.builder().side(PadSide.POST).dtype(DType.INT32).maxlen(ROW).build();
        slot = HostSlot.allocate(new PaddedShape(batchSize, ROW, 1, ROW, DType.INT32, false), batchSize, packing);
    }

    private int next() {
        int i = k;
        k = i + 1 == c.batches.length ? 0 : i + 1;
        return i;
    }

    @Benchmark
    public Object batch() {
        return packed ? collator.fillPacked(slot, c.store, c.batches[next()], packing) : c.pad(collator, next());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        slot.close();
        collator.close();
        c.close();
    }
}
