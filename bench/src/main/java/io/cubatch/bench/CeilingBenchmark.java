package io.cubatch.bench;

import io.cubatch.store.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
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
 * The memory-bandwidth ceiling for the same batches as {@link PadBenchmark}: per operation, copy the
 * batch's real-token bytes (one contiguous {@code MemorySegment.copy}, or C memcpy through libcubatch)
 * and fill its padding bytes ({@code MemorySegment.fill}), plus the lengths and mask bytes as a fill.
 * Padding cannot beat this, since it must read and write the tokens and write the padding.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class CeilingBenchmark {
    /** The C library's memcpy (what libcubatch's cb_copy calls), looked up directly: the ceiling needs no cubatch code. */
    private static final MethodHandle MEMCPY = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("memcpy").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));

    @Param({"8", "64", "256", "1024"})
    public int batchSize;

    @Param({"uniform", "lognormal", "bimodal"})
    public String distribution;

    @Param({"int32", "float16"})
    public String dtype;

    private Workload w;
    private Arena arena;
    private MemorySegment src;
    private MemorySegment dst;
    private int k;

    @Setup(Level.Trial)
    public void setup() {
        w = new Workload(distribution, batchSize, DType.fromName(dtype).orElseThrow());
        arena = Arena.ofShared();
        src = arena.allocate(w.maxOutputBytes(), 64);
        dst = arena.allocate(w.maxOutputBytes(), 64);
        src.fill((byte) 1);
    }

    private long other(int i) {
        return w.outputBytes[i] - w.realBytes[i] - w.padBytes[i];
    }

    @Benchmark
    public MemorySegment copyAndFill() {
        int i = k++ & (Workload.BATCHES - 1);
        MemorySegment.copy(src, 0, dst, 0, w.realBytes[i]);
        dst.asSlice(w.realBytes[i], w.padBytes[i] + other(i)).fill((byte) 0);
        return dst;
    }

    @Benchmark
    public MemorySegment memcpyAndFill() throws Throwable {
        int i = k++ & (Workload.BATCHES - 1);
        MemorySegment ignored = (MemorySegment) MEMCPY.invokeExact(dst, src, w.realBytes[i]);
        dst.asSlice(w.realBytes[i], w.padBytes[i] + other(i)).fill((byte) 0);
        return dst;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
        w.close();
    }
}
