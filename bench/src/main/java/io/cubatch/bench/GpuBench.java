package io.cubatch.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.cubatch.collate.Collation;
import io.cubatch.collate.PaddedShape;
import io.cubatch.cuda.Cuda;
import io.cubatch.cuda.CudaCollator;
import io.cubatch.cuda.CudaContext;
import io.cubatch.cuda.CudaException;
import io.cubatch.cuda.CudaSlot;
import io.cubatch.cuda.CudaTensors;
import io.cubatch.cuda.DeviceMemory;
import io.cubatch.cuda.DeviceStore;
import io.cubatch.cuda.HostPointer;
import io.cubatch.store.DType;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * The GPU benchmarks (bench/gpu-check.sh runs them; they need a GPU). The pad paths are timed wall-clock
 * around loops that end in cuCtxSynchronize (what a trainer sees per batch, launch and host work included);
 * the device-to-device copy with CUDA events:
 * <ul>
 * <li>pad kernel, resident dataset (only indices cross PCIe): output GB/s, against a device-to-device copy
 *     of the same number of bytes (the memory-bound ceiling for writing that output);</li>
 * <li>compact path from a host store (host gather of real tokens into pinned memory + one H2D + kernel):
 *     wall-clock GB/s of output, and bytes over PCIe against the padded output's bytes;</li>
 * <li>H2D copies, pinned ({@code cuMemHostAlloc}) against pageable (an Arena), 1 to 256 MiB.</li>
 * </ul>
 * Same workloads as the CPU benchmarks: {@link Workload} log-normal lengths, int32, batch 8 to 1024.
 * Writes {@code gpu-bench.json} into the directory given and prints a table.
 */
public final class GpuBench {
    private GpuBench() {
    }

    private static final int REPS = 50;

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : ".");
        Files.createDirectories(dir);
        Cuda.Availability a = Cuda.availability();
        if (!a.available()) {
            System.err.println("gpu bench: no usable GPU: " + a.reason());
            System.exit(3);
        }
        PrintStream out = System.out;
        try (CudaContext context = CudaContext.open(0);
             JsonGenerator g = JsonFactory.builder().build().createGenerator(Files.newBufferedWriter(dir.resolve("gpu-bench.json")))) {
            g.useDefaultPrettyPrinter();
            g.writeStartObject();
            g.writeStringField("device", context.device().name());
            g.writeNumberField("device_bytes", context.device().totalBytes());
            g.writeStringField("jdk", Runtime.version().toString());
            g.writeArrayFieldStart("pad");
            out.printf("%-6s %12s %12s %12s %9s %14s %14s%n", "batch", "resident", "d2d copy", "compact", "vs copy",
                    "PCIe B/batch", "output B");
            for (int batch : new int[] {8, 64, 256, 1024}) {
                // 4 slots used round robin: up to 4 batches in flight, as in a loader's ring
                try (Workload w = new Workload("lognormal", batch, DType.INT32);
                     CudaCollator cuda = new CudaCollator(context);
                     DeviceStore resident = cuda.upload(w.store, Long.MAX_VALUE);
                     Slots slots = new Slots(4)) {
                    double outBytes = w.averageOutputBytes();
                    double residentSeconds = wallSeconds(context, () -> {
                        for (int r = 0; r < REPS; r++) {
                            slots.next().enqueue(resident, w.batches[r % Workload.BATCHES], w.padding);
                        }
                        slots.synchronize();
                    }) / REPS;
                    double copySeconds = copySeconds(context, w.maxOutputBytes(), (long) outBytes);
                    long h2d = 0;
                    for (int k = 0; k < Workload.BATCHES; k++) {   // warm up, and the bytes each batch sends
                        CudaTensors t = slots.next().enqueue(w.store, w.batches[k], w.padding);
                        t.await();
                        h2d += t.h2dBytes();
                    }
                    long t0 = System.nanoTime();
                    for (int r = 0; r < REPS; r++) {
                        slots.next().enqueue(w.store, w.batches[r % Workload.BATCHES], w.padding);
                    }
                    slots.synchronize();
                    double compactSeconds = (System.nanoTime() - t0) / 1e9 / REPS;
                    PaddedShape s0 = Collation.shape(w.store, w.batches[0], w.padding);
                    g.writeStartObject();
                    g.writeNumberField("batch", batch);
                    g.writeNumberField("output_bytes", outBytes);
                    g.writeNumberField("resident_pad_gbps", outBytes / residentSeconds / 1e9);
                    g.writeNumberField("d2d_copy_gbps", outBytes / copySeconds / 1e9);
                    g.writeNumberField("compact_pad_wall_gbps", outBytes / compactSeconds / 1e9);
                    g.writeNumberField("pcie_bytes_per_batch", h2d / (double) Workload.BATCHES);
                    g.writeNumberField("first_batch_length", s0.length());
                    g.writeEndObject();
                    out.printf("%-6d %9.1f GB/s %7.1f GB/s %7.1f GB/s %8.2fx %14.0f %14.0f%n", batch,
                            outBytes / residentSeconds / 1e9, outBytes / copySeconds / 1e9,
                            outBytes / compactSeconds / 1e9, copySeconds / residentSeconds,
                            h2d / (double) Workload.BATCHES, outBytes);
                }
            }
            g.writeEndArray();
            g.writeArrayFieldStart("h2d");
            out.printf("%n%-10s %14s %14s%n", "H2D size", "pinned", "pageable");
            for (long mib : new long[] {1, 16, 256}) {
                long bytes = mib << 20;
                double[] gbps = h2d(context, bytes);
                g.writeStartObject();
                g.writeNumberField("bytes", bytes);
                g.writeNumberField("pinned_gbps", gbps[0]);
                g.writeNumberField("pageable_gbps", gbps[1]);
                g.writeEndObject();
                out.printf("%-10s %9.1f GB/s %9.1f GB/s%n", mib + " MiB", gbps[0], gbps[1]);
            }
            g.writeEndArray();
            g.writeEndObject();
        }
    }

    /** K slots of device 0 used round robin; closing frees them. */
    private static final class Slots implements AutoCloseable {
        private final CudaSlot[] slots;
        private int next;

        Slots(int k) {
            slots = new CudaSlot[k];
            try {
                for (int i = 0; i < k; i++) {
                    slots[i] = new CudaSlot(0);
                }
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        CudaSlot next() {
            return slots[next++ % slots.length];
        }

        /** Waits for every slot's stream. */
        void synchronize() {
            for (CudaSlot s : slots) {
                s.synchronize();
            }
        }

        @Override
        public void close() {
            for (CudaSlot s : slots) {
                if (s != null) {
                    s.close();
                }
            }
        }
    }

    /** Wall time of {@code work} until the device has finished it, after one warm-up run. */
    private static double wallSeconds(CudaContext context, Runnable work) {
        work.run();   // warm-up
        context.synchronize();
        long t0 = System.nanoTime();
        work.run();
        context.synchronize();
        return (System.nanoTime() - t0) / 1e9;
    }

    private static double copySeconds(CudaContext context, long capacity, long bytes) {
        try (DeviceMemory src = context.allocate(capacity); DeviceMemory dst = context.allocate(capacity)) {
            CUstream s = context.newStream();
            CUevent start = new CUevent();
            CUevent end = new CUevent();
            CudaException.check(JCudaDriver.cuEventCreate(start, 0), "cuEventCreate");
            CudaException.check(JCudaDriver.cuEventCreate(end, 0), "cuEventCreate");
            for (int r = 0; r < 5; r++) {
                CudaException.check(JCudaDriver.cuMemcpyDtoDAsync(dst.at(0), src.at(0), bytes, s), "cuMemcpyDtoDAsync");
            }
            CudaException.check(JCudaDriver.cuEventRecord(start, s), "cuEventRecord");
            for (int r = 0; r < REPS; r++) {
                CudaException.check(JCudaDriver.cuMemcpyDtoDAsync(dst.at(0), src.at(0), bytes, s), "cuMemcpyDtoDAsync");
            }
            CudaException.check(JCudaDriver.cuEventRecord(end, s), "cuEventRecord");
            CudaException.check(JCudaDriver.cuEventSynchronize(end), "cuEventSynchronize");
            float[] ms = new float[1];
            CudaException.check(JCudaDriver.cuEventElapsedTime(ms, start, end), "cuEventElapsedTime");
            CudaException.check(JCudaDriver.cuEventDestroy(start), "cuEventDestroy");
            CudaException.check(JCudaDriver.cuEventDestroy(end), "cuEventDestroy");
            context.destroyStream(s);
            return ms[0] / 1e3 / REPS;
        }
    }

    private static double[] h2d(CudaContext context, long bytes) {
        double[] out = new double[2];
        try (DeviceMemory dst = context.allocate(bytes); Arena arena = Arena.ofShared()) {
            MemorySegment pinnedBlock = context.allocatePinned(bytes, arena);
            pinnedBlock.fill((byte) 1);
            MemorySegment pageable = arena.allocate(bytes, 4096);
            pageable.fill((byte) 1);
            for (int k = 0; k < 2; k++) {
                jcuda.Pointer from = HostPointer.to(k == 0 ? pinnedBlock : pageable);
                int reps = bytes >= (256L << 20) ? 5 : 20;
                context.makeCurrent();
                CudaException.check(JCudaDriver.cuMemcpyHtoD(dst.at(0), from, bytes), "cuMemcpyHtoD");
                long t0 = System.nanoTime();
                for (int r = 0; r < reps; r++) {
                    CudaException.check(JCudaDriver.cuMemcpyHtoD(dst.at(0), from, bytes), "cuMemcpyHtoD");
                }
                context.synchronize();
                out[k] = bytes * (double) reps / ((System.nanoTime() - t0) / 1e9) / 1e9;
            }
        }
        return out;
    }
}
