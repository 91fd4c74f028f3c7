package io.cubatch.cuda;

import io.cubatch.cuda.internal.DevicePointer;
import io.cubatch.cuda.internal.DriverCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * One GPU as one owner uses it: the device's primary context (retained once per process by the device
 * registry, shared with the CUDA runtime, cuBLAS and other libraries), the kernels loaded into it, and the
 * device allocations, pinned host blocks and streams made through this object, which it tracks. Every
 * driver call is checked and fails as a {@link CudaException} naming the call and the error.
 *
 * <p>Close it (try-with-resources) after everything made through it: like Arrow's allocators, {@link #close()}
 * frees what is still open and then throws an {@link IllegalStateException} naming what leaked and how much.
 * Opening and closing is cheap (no context or module is created): open one per owner.
 *
 * <p>Methods make the context current on the calling thread first, so a context may be used from several
 * threads (each with its own streams); the objects built on it ({@link CudaCollator}) are single-threaded.
 */
public final class CudaContext implements AutoCloseable {
    private static final int BLOCK = 256;

    private final CudaDevice device;
    final CUfunction padKernel;
    final CUfunction pad16Kernel;
    final CUfunction stackKernel;
    final CUfunction packKernel;
    private final Set<DeviceMemory> live = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Map<Long, Long> pinned = new LinkedHashMap<>();   // address -> bytes
    private final List<CUstream> streams = new ArrayList<>();
    private boolean closed;

    private CudaContext(CudaDevice device) {
        this.device = device;
        this.padKernel = device.padKernel;
        this.pad16Kernel = device.pad16Kernel;
        this.stackKernel = device.stackKernel;
        this.packKernel = device.packKernel;
    }

    /**
     * Opens device {@code ordinal}; the caller closes it.
     *
     * @param ordinal the CUDA device ordinal, from 0
     * @return a new owner of the device's primary context (no CUDA context is created); close it
     * @throws IllegalStateException    when the cuda backend is unavailable here, with the reason
     * @throws IllegalArgumentException for a device that does not exist, naming those that do
     */
    public static CudaContext open(int ordinal) {
        return new CudaContext(CudaDevice.get(ordinal));
    }

    /**
     * The device this context drives: name, ordinal, compute capability and memory.
     *
     * @return the device's description
     */
    public Cuda.Device device() {
        return device.info;
    }

    /**
     * The CUDA device ordinal.
     *
     * @return the ordinal, from 0
     */
    public int ordinal() {
        return device.info.ordinal();
    }

    /** Makes this context current on the calling thread. */
    public synchronized void makeCurrent() {
        checkOpen();
        device.makeCurrent();
    }

    /**
     * A new non-blocking stream; destroy it with {@link #destroyStream} (close destroys a forgotten one).
     *
     * @return the stream, owned by this context
     * @throws CudaException when the driver refuses
     * @throws IllegalStateException when the context is closed
     */
    public synchronized CUstream newStream() {
        makeCurrent();
        CUstream s = new CUstream();
        CudaException.check(JCudaDriver.cuStreamCreate(s, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        streams.add(s);
        return s;
    }

    /**
     * Destroys a stream made by {@link #newStream} (its queued work still completes).
     *
     * @param s a stream from this context's {@link #newStream}, not yet destroyed
     * @throws IllegalArgumentException when it was not made here or is destroyed already
     * @throws CudaException when the driver refuses
     */
    public synchronized void destroyStream(CUstream s) {
        if (!streams.remove(s)) {
            throw new IllegalArgumentException("stream " + s + " was not made by this context, or is destroyed already");
        }
        makeCurrent();
        CudaException.check(JCudaDriver.cuStreamDestroy(s), "cuStreamDestroy");
    }

    /**
     * Allocates {@code bytes} of device memory (at least one byte is allocated, so an empty tensor still has
     * an address).
     *
     * @param bytes the size, at least 0
     * @return the allocation, tracked by this context; close it to free the memory
     * @throws CudaException {@code CUDA_ERROR_OUT_OF_MEMORY} ({@link CudaException#isOutOfMemory()}) and others
     * @throws IllegalArgumentException when {@code bytes} is negative
     * @throws IllegalStateException when the context is closed
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

    /**
     * {@link #allocate}, or empty when the device is out of memory (recognised by the error code).
     *
     * @param bytes the size, at least 0
     * @return the allocation, or empty when the device has not that much free
     * @throws CudaException for any error other than out-of-memory
     */
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

    /**
     * Page-locked host memory ({@code cuMemHostAlloc}, portable) of {@code bytes} bytes, any size, as a
     * segment owned by {@code arena}: closing the arena frees the block, and no slice outlives it. Async
     * copies need such memory on the host side.
     *
     * @param bytes the size, at least 1
     * @param arena the arena that owns the block: closing it frees the block
     * @return the block as a segment of {@code bytes} bytes, in {@code arena}
     * @throws IllegalArgumentException when {@code bytes} is below 1
     * @throws CudaException when the driver cannot pin that much
     */
    public synchronized MemorySegment allocatePinned(long bytes, Arena arena) {
        if (bytes < 1) {
            throw new IllegalArgumentException("cannot pin " + bytes + " bytes");
        }
        makeCurrent();
        long[] at = new long[1];
        CudaException.check(DriverCalls.memHostAlloc(bytes, 0x01 /* CU_MEMHOSTALLOC_PORTABLE */, at),
                "cuMemHostAlloc(" + bytes + " bytes)");
        long address = at[0];
        pinned.put(address, bytes);
        try {
            return MemorySegment.ofAddress(address).reinterpret(bytes, arena, s -> freePinned(address));
        } catch (RuntimeException e) {
            freePinned(address);
            throw e;
        }
    }

    private synchronized void freePinned(long address) {
        if (pinned.remove(address) != null) {
            device.makeCurrent();
            CudaException.check(DriverCalls.memFreeHost(address), "cuMemFreeHost");
        }
    }

    synchronized void forget(DeviceMemory m) {
        live.remove(m);
    }

    /**
     * Allocations made through this context and not yet closed.
     *
     * @return the number of device allocations not yet closed
     */
    public synchronized int openAllocations() {
        return live.size();
    }

    /**
     * Device allocations, pinned blocks and streams made through this context and not yet freed.
     *
     * @return a one-line summary: counts and bytes
     */
    public synchronized String openResources() {
        long bytes = live.stream().mapToLong(DeviceMemory::bytes).sum();
        long pinnedBytes = pinned.values().stream().mapToLong(Long::longValue).sum();
        return live.size() + " device allocation(s) of " + bytes + " bytes, " + pinned.size() + " pinned block(s) of "
                + pinnedBytes + " bytes, " + streams.size() + " stream(s)";
    }

    /**
     * {@code [free, total]} device memory in bytes ({@code cuMemGetInfo}).
     *
     * @return a new array {@code {free, total}}
     * @throws CudaException when the driver refuses
     */
    public synchronized long[] memoryInfo() {
        makeCurrent();
        long[] free = new long[1];
        long[] total = new long[1];
        CudaException.check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
        return new long[] {free[0], total[0]};
    }

    /** Waits for all work on this device ({@code cuCtxSynchronize}), the legacy default stream's too. */
    public synchronized void synchronize() {
        makeCurrent();
        CudaException.check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    /**
     * Launches a row kernel of cb_kernels.cu on {@code stream}: {@code gridDim.y} walks the {@code rows} (rows,
     * sequences), {@code gridDim.x} blocks of 256 threads walk each row's {@code rowWork} items; see
     * {@link #rowGrid}.
     */
    void launchRows(CUfunction f, String name, long rows, long rowWork, CUstream stream, Pointer params) {
        int[] grid = rowGrid(rows, rowWork, device.multiprocessors);
        makeCurrent();
        CudaException.check(JCudaDriver.cuLaunchKernel(f, grid[0], grid[1], 1, BLOCK, 1, 1, 0, stream, params, null),
                "cuLaunchKernel(" + name + ")");
    }

    /**
     * The grid {x, y} of a row kernel: one block row per row (at most 65535; the kernels stride over more),
     * and per row enough blocks of 256 threads to cover {@code rowWork}, but no more than keep the whole grid
     * within 8 blocks per multiprocessor (the kernels stride along the row too). Never 0 in either dimension.
     */
    static int[] rowGrid(long rows, long rowWork, int multiprocessors) {
        long y = Math.max(1, Math.min(rows, 65535));
        long perRow = Math.max(1, 8L * Math.max(1, multiprocessors) / y);
        long x = Math.max(1, Math.min((rowWork + BLOCK - 1) / BLOCK, perRow));
        return new int[] {(int) x, (int) y};
    }

    /**
     * Whether {@link #close()} has run.
     *
     * @return true once closed
     */
    public synchronized boolean isClosed() {
        return closed;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("CUDA context of device " + ordinal() + " is closed");
        }
    }

    /**
     * Waits for the device, then frees the device allocations and streams still open (pinned blocks are
     * freed by the Arena that owns them). Idempotent.
     *
     * @throws IllegalStateException after freeing, naming what was still open: each owner (collator, device
     *                               store, batch) must be closed before its context
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        String leaked = live.isEmpty() && pinned.isEmpty() && streams.isEmpty() ? null : openResources();
        try {
            device.makeCurrent();
            JCudaDriver.cuCtxSynchronize();
            for (DeviceMemory m : List.copyOf(live)) {
                m.freeForContextClose();
            }
            live.clear();
            // pinned blocks are reported, not freed: their Arena owns them and frees them when it closes
            // (freeing here would leave its segments pointing at unmapped memory)
            for (CUstream s : streams) {
                JCudaDriver.cuStreamDestroy(s);
            }
            streams.clear();
        } finally {
            closed = true;
        }
        if (leaked != null) {
            throw new IllegalStateException("CUDA context of device " + ordinal() + " closed with " + leaked
                    + " still open (device memory and streams now freed, pinned blocks when their Arena closes): close"
                    + " every collator, device store and batch before their context");
        }
    }

    @Override
    public String toString() {
        return "CudaContext[device " + ordinal() + ": " + device.info.name() + "]";
    }
}
