package io.cubatch.cuda;

import io.cubatch.cuda.internal.DevicePointer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * One GPU as cubatch uses it: the device's primary context (shared with the CUDA runtime, cuBLAS and other
 * libraries in the process), the kernels loaded from the jar's fatbin ({@code cuModuleLoadData}, never nvcc
 * at run time), and the device allocations made through it. Every driver call is checked and fails as a
 * {@link CudaException} naming the call and the error. No static state: open as many as there are devices,
 * close each one (try-with-resources); closing frees its module, streams and any allocation still open.
 *
 * <p>Methods make the context current on the calling thread first, so a context may be used from several
 * threads (each with its own streams); the objects built on it ({@link CudaCollator}) are single-threaded.
 */
public final class CudaContext implements AutoCloseable {
    private static final int BLOCK = 256;

    private final Cuda.Device info;
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final CUmodule module = new CUmodule();
    final CUfunction padKernel = new CUfunction();
    final CUfunction pad16Kernel = new CUfunction();
    final CUfunction stackKernel = new CUfunction();
    final CUfunction scatterKernel = new CUfunction();
    private final int multiprocessors;
    private final Set<DeviceMemory> live = Collections.newSetFromMap(new IdentityHashMap<>());
    private final List<CUstream> streams = new ArrayList<>();
    private boolean closed;
    private boolean retained;
    private boolean loaded;

    private CudaContext(int ordinal) {
        Cuda.Availability a = Cuda.availability();
        if (!a.available()) {
            throw new IllegalStateException("the cuda backend is unavailable: " + a.reason());
        }
        if (ordinal < 0 || ordinal >= a.devices().size()) {
            throw new IllegalArgumentException("device " + ordinal + " does not exist: this machine has "
                    + a.devices().size() + " GPU(s), numbered 0.." + (a.devices().size() - 1));
        }
        this.info = a.devices().get(ordinal);
        try {
            CudaException.check(JCudaDriver.cuDeviceGet(device, ordinal), "cuDeviceGet");
            CudaException.check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
            retained = true;
            makeCurrent();
            int[] sms = new int[1];
            CudaException.check(JCudaDriver.cuDeviceGetAttribute(sms,
                    CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device), "cuDeviceGetAttribute");
            multiprocessors = sms[0];
            CudaException.check(JCudaDriver.cuModuleLoadData(module, Cuda.fatbin()), "cuModuleLoadData");
            loaded = true;
            function(padKernel, "cb_pad_kernel");
            function(pad16Kernel, "cb_pad_kernel16");
            function(stackKernel, "cb_stack_kernel");
            function(scatterKernel, "cb_scatter_indices_kernel");
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Opens device {@code ordinal}; the caller closes it. */
    public static CudaContext open(int ordinal) {
        return new CudaContext(ordinal);
    }

    private void function(CUfunction f, String name) {
        CudaException.check(JCudaDriver.cuModuleGetFunction(f, module, name), "cuModuleGetFunction(" + name + ")");
    }

    public Cuda.Device device() {
        return info;
    }

    public int ordinal() {
        return info.ordinal();
    }

    /** Makes this context current on the calling thread. */
    public synchronized void makeCurrent() {
        checkOpen();
        CudaException.check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /** A new non-blocking stream, destroyed when this context closes. */
    public synchronized CUstream newStream() {
        makeCurrent();
        CUstream s = new CUstream();
        CudaException.check(JCudaDriver.cuStreamCreate(s, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        streams.add(s);
        return s;
    }

    /**
     * Allocates {@code bytes} of device memory (at least one byte is allocated, so an empty tensor still has
     * an address).
     *
     * @throws CudaException {@code CUDA_ERROR_OUT_OF_MEMORY} ({@link CudaException#isOutOfMemory()}) and others
     */
    public synchronized DeviceMemory allocate(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        }
        makeCurrent();
        DevicePointer p = new DevicePointer();
        CudaException.check(JCudaDriver.cuMemAlloc(p, Math.max(1, bytes)), "cuMemAlloc(" + bytes + " bytes)");
        DeviceMemory m = new DeviceMemory(this, p, bytes);
        live.add(m);
        return m;
    }

    /** {@link #allocate}, or empty when the device is out of memory (recognised by the error code). */
    public Optional<DeviceMemory> tryAllocate(long bytes) {
        try {
            return Optional.of(allocate(bytes));
        } catch (CudaException e) {
            if (e.isOutOfMemory()) {
                return Optional.empty();
            }
            throw e;
        }
    }

    synchronized void forget(DeviceMemory m) {
        live.remove(m);
    }

    /** Allocations made through this context and not yet closed. */
    public synchronized int openAllocations() {
        return live.size();
    }

    /** {@code [free, total]} device memory in bytes ({@code cuMemGetInfo}). */
    public synchronized long[] memoryInfo() {
        makeCurrent();
        long[] free = new long[1];
        long[] total = new long[1];
        CudaException.check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
        return new long[] {free[0], total[0]};
    }

    /** Waits for all work on this device ({@code cuCtxSynchronize}). */
    public synchronized void synchronize() {
        makeCurrent();
        CudaException.check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    /** Launches {@code f} on {@code stream} with a grid-stride grid sized for {@code work} items. */
    void launch(CUfunction f, String name, long work, CUstream stream, Pointer params) {
        int grid = gridFor(work, multiprocessors);
        makeCurrent();
        CudaException.check(JCudaDriver.cuLaunchKernel(f, grid, 1, 1, BLOCK, 1, 1, 0, stream, params, null),
                "cuLaunchKernel(" + name + ")");
    }

    /** Blocks of 256 threads: enough to cover {@code work}, at most 8 per multiprocessor (the loops stride). */
    static int gridFor(long work, int multiprocessors) {
        long blocks = Math.max(1, (work + BLOCK - 1) / BLOCK);
        return (int) Math.min(blocks, 8L * Math.max(1, multiprocessors));
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("CUDA context of device " + info.ordinal() + " is closed");
        }
    }

    /** Frees every allocation still open, destroys the streams, unloads the kernels, releases the context. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        if (retained) {
            JCudaDriver.cuCtxSetCurrent(context);
            JCudaDriver.cuCtxSynchronize();
        }
        for (DeviceMemory m : List.copyOf(live)) {
            m.freeForContextClose();
        }
        live.clear();
        for (CUstream s : streams) {
            JCudaDriver.cuStreamDestroy(s);
        }
        streams.clear();
        if (loaded) {
            JCudaDriver.cuModuleUnload(module);
        }
        if (retained) {
            JCudaDriver.cuDevicePrimaryCtxRelease(device);
        }
        closed = true;
    }

    @Override
    public String toString() {
        return "CudaContext[device " + info.ordinal() + ": " + info.name() + "]";
    }
}
