package io.cubatch.cuda;

import io.cubatch.collate.PaddedShape;
import io.cubatch.store.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import jcuda.Pointer;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import jcuda.jcublas.cublasStatus;

/**
 * The largest batch size whose collated batch, plus one training step, fits in device memory. Each trial
 * allocates the batch's tensors at the worst case (every row as long as the longest sample or maxlen),
 * runs the step, and frees everything; a trial fails when an allocation or the step returns
 * {@code CUDA_ERROR_OUT_OF_MEMORY} (by code, not message text), and any other error stops the probe. A
 * safety margin (a fraction of device memory) is held during every trial, so the answer leaves that much
 * free. The search is {@link ProbeSearch}.
 *
 * <p>The default step is a linear layer's forward pass through cuBLAS sgemm: input [B·L, hidden] float32
 * times weights [hidden, out] into [B·L, out], the seed's {@code nn.Linear} example. JCublas 12.6 needs
 * {@code libcublas.so.12}; without it the probe says so and runs without the step.
 */
public final class MemoryProbe {
    private MemoryProbe() {
    }

    /**
     * Work done with a batch of {@code batch} rows of {@code length} timesteps during a trial: allocate what
     * it needs through {@code context}, run, free everything before returning. Throw the
     * {@link CudaException} of an out-of-memory error to say it does not fit.
     */
    public interface Step {
        /**
         * What the step does, for the report: "none", or "linear 4096x4096 float32 (cublasSgemm)".
         *
         * @return the description
         */
        String describe();

        /**
         * Runs the step once for a batch of this size, freeing everything it allocated before it returns.
         *
         * @param context the device's context, to allocate through
         * @param batch the rows of the batch, at least 1
         * @param length the timesteps per row, at least 1
         * @throws CudaException with an out-of-memory code when the step does not fit; any other exception ends the
         *     probe
         */
        void run(CudaContext context, long batch, long length);
    }

    /**
     * No step: the probe measures the batch alone.
     *
     * @return a step that does nothing
     */
    public static Step none() {
        return new Step() {
            @Override
            public String describe() {
                return "none";
            }

            @Override
            public void run(CudaContext context, long batch, long length) {
            }
        };
    }

    /**
     * Why the cuBLAS step cannot run here, or empty when it can.
     *
     * @return the reason, or empty
     */
    public static Optional<String> cublasUnavailable() {
        try (Arena a = Arena.ofConfined()) {
            SymbolLookup.libraryLookup("libcublas.so.12", a);
        } catch (IllegalArgumentException e) {
            return Optional.of("libcublas.so.12 not found (JCublas 12.6 links it; install the CUDA 12 cuBLAS"
                    + " runtime or put it on LD_LIBRARY_PATH)");
        }
        try {
            JCublas2.setExceptionsEnabled(false);
            return Optional.empty();
        } catch (LinkageError e) {
            return Optional.of("JCublas could not load: " + e);
        }
    }

    /**
     * {@link #linear}, or {@link #none()} when cuBLAS cannot run here, with the reason added to {@code notes}.
     *
     * @param hidden the layer's input width, at least 1
     * @param out the layer's output width, at least 1
     * @param notes where the reason for falling back to {@link #none()} is added
     * @return the linear step, or {@link #none()}
     */
    public static Step linearIfAvailable(int hidden, int out, List<String> notes) {
        Optional<String> why = cublasUnavailable();
        if (why.isPresent()) {
            notes.add("probed without the linear step: " + why.get());
            return none();
        }
        return linear(hidden, out);
    }

    /**
     * The linear layer step: [B·L, hidden] x [hidden, out] in float32 through cublasSgemm.
     *
     * @param hidden the layer's input width, at least 1
     * @param out the layer's output width, at least 1
     * @return the step; each run allocates {@code 4 (B·L·hidden + hidden·out + B·L·out)} bytes and frees them
     * @throws IllegalArgumentException when a width is below 1
     */
    public static Step linear(int hidden, int out) {
        if (hidden < 1 || out < 1) {
            throw new IllegalArgumentException("linear step needs hidden >= 1 and out >= 1, got " + hidden + " x " + out);
        }
        return new Step() {
            @Override
            public String describe() {
                return "linear " + hidden + "x" + out + " float32 (cublasSgemm)";
            }

            @Override
            public void run(CudaContext context, long batch, long length) {
                long rows = batch * length;
                if (rows > Integer.MAX_VALUE) {
                    throw new CudaException("cublasSgemm (" + rows + " rows exceed int)", jcuda.driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY);
                }
                try (DeviceMemory x = context.allocate(rows * hidden * 4L);
                     DeviceMemory w = context.allocate((long) hidden * out * 4L);
                     DeviceMemory y = context.allocate(rows * out * 4L)) {
                    context.makeCurrent();
                    cublasHandle handle = new cublasHandle();
                    int st = JCublas2.cublasCreate(handle);
                    if (st == cublasStatus.CUBLAS_STATUS_ALLOC_FAILED) {
                        throw new CudaException("cublasCreate", jcuda.driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY);
                    }
                    if (st != cublasStatus.CUBLAS_STATUS_SUCCESS) {
                        throw new IllegalStateException("cublasCreate failed: " + cublasStatus.stringFor(st));
                    }
                    try {
                        CudaException.check(jcuda.driver.JCudaDriver.cuMemsetD8(x.at(0), (byte) 0, x.bytes()), "cuMemsetD8");
                        CudaException.check(jcuda.driver.JCudaDriver.cuMemsetD8(w.at(0), (byte) 0, w.bytes()), "cuMemsetD8");
                        // column-major: Y^T [out, rows] = W^T [out, hidden] x X^T [hidden, rows]
                        st = JCublas2.cublasSgemm(handle, cublasOperation.CUBLAS_OP_N, cublasOperation.CUBLAS_OP_N, out,
                                (int) rows, hidden, Pointer.to(new float[] {1f}), w.at(0), out, x.at(0), hidden,
                                Pointer.to(new float[] {0f}), y.at(0), out);
                        if (st == cublasStatus.CUBLAS_STATUS_ALLOC_FAILED) {
                            throw new CudaException("cublasSgemm", jcuda.driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY);
                        }
                        if (st != cublasStatus.CUBLAS_STATUS_SUCCESS) {
                            throw new IllegalStateException("cublasSgemm failed: " + cublasStatus.stringFor(st));
                        }
                        context.synchronize();
                    } finally {
                        JCublas2.cublasDestroy(handle);
                    }
                }
            }
        };
    }

    /**
     * What {@link #probe} found.
     *
     * @param largestBatch the answer, 0 when not even a batch of 1 fits
     * @param length       the worst-case row length probed (L)
     * @param bytesAtLargest the batch tensors' bytes at the answer (without the step)
     * @param trials       every trial
     * @param freeBytes    device memory free before the probe
     * @param totalBytes   device memory in all
     * @param marginBytes  held free during every trial
     * @param step         the step's description
     */
    public record Report(long largestBatch, long length, long bytesAtLargest, List<ProbeSearch.Trial> trials,
                         long freeBytes, long totalBytes, long marginBytes, String step) {
    }

    /**
     * Probes for batches of {@code length} timesteps (the worst case: maxlen, or the longest sample) of
     * {@code features} per timestep in {@code dtype}.
     *
     * @param margin   fraction of device memory kept free, in [0, 0.9]
     * @param maxBatch the largest batch size tried
     * @param context the device's context; every allocation of the probe is freed before it returns
     * @param length the row length L, in timesteps, at least 1
     * @param features the elements per timestep, at least 1
     * @param dtype the batch's element type
     * @param positions whether the batch carries position ids
     * @param step the work run with each trial batch, e.g. {@link #none()} or {@link #linear}
     * @return the largest batch that fits, with every trial and the device's memory figures
     * @throws IllegalArgumentException when a size, the margin or {@code maxBatch} is out of range
     * @throws IllegalStateException when the step left an allocation open
     */
    public static Report probe(CudaContext context, long length, long features, DType dtype, boolean positions,
                               Step step, double margin, long maxBatch) {
        if (length < 1 || features < 1) {
            throw new IllegalArgumentException("probe needs a row length >= 1 and features >= 1, got " + length
                    + " and " + features);
        }
        if (!(margin >= 0 && margin <= 0.9)) {
            throw new IllegalArgumentException("margin " + margin + " is outside [0, 0.9]: it is the fraction of"
                    + " device memory kept free");
        }
        long[] info = context.memoryInfo();
        long marginBytes = (long) (margin * info[1]);
        ProbeSearch.Result r = ProbeSearch.largest(maxBatch, b -> fits(context, b, length, features, dtype, positions,
                step, marginBytes));
        if (context.openAllocations() != 0) {
            throw new IllegalStateException(context.openAllocations() + " allocations left open by the probe");
        }
        long at = r.largest() == 0 ? 0 : batchBytes(r.largest(), length, features, dtype, positions);
        return new Report(r.largest(), length, at, r.trials(), info[0], info[1], marginBytes, step.describe());
    }

    /**
     * Bytes of a collated batch's tensors: data, lengths, mask and (optionally) positions.
     *
     * @param batch the rows B
     * @param length the row length L, in timesteps
     * @param features the elements per timestep F
     * @param dtype the data's element type
     * @param positions whether position ids are counted
     * @return the bytes, or {@link Long#MAX_VALUE} when they overflow 64 bits or {@code batch} exceeds an int
     */
    public static long batchBytes(long batch, long length, long features, DType dtype, boolean positions) {
        if (batch > Integer.MAX_VALUE) {
            return Long.MAX_VALUE;
        }
        PaddedShape s = new PaddedShape((int) batch, length, features, length, dtype, positions);
        try {
            return Math.addExact(Math.addExact(Math.addExact(s.dataBytes(), s.lengthsBytes()), s.maskBytes()),
                    positions ? s.positionsBytes() : 0);
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    private static boolean fits(CudaContext context, long batch, long length, long features, DType dtype,
                                boolean positions, Step step, long marginBytes) {
        List<DeviceMemory> held = new ArrayList<>();
        try {
            long bytes = batchBytes(batch, length, features, dtype, positions);
            if (bytes == Long.MAX_VALUE) {
                return false;
            }
            for (long size : new long[] {marginBytes, bytes}) {
                Optional<DeviceMemory> m = context.tryAllocate(size);
                if (m.isEmpty()) {
                    return false;
                }
                held.add(m.get());
            }
            step.run(context, batch, length);
            return true;
        } catch (CudaException e) {
            if (e.isOutOfMemory()) {
                return false;
            }
            throw e;
        } finally {
            for (DeviceMemory m : held) {
                m.close();
            }
        }
    }
}
