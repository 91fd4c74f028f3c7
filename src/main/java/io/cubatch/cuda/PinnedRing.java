package io.cubatch.cuda;

import io.cubatch.cuda.internal.HostPointer;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * K reusable slots for batches in flight on one stream. Each slot owns page-locked host memory
 * ({@code cuMemHostAlloc}, seen from Java as a {@link MemorySegment} so the host gathers straight into it),
 * a device input area (what the H2D copy fills), a device output area (the batch's tensors), a small device
 * word area (error words, pad value) and an event recorded after the slot's last operation. Areas grow
 * when a bigger batch comes and are then reused. A slot is handed out only when its previous batch has
 * been closed ({@link SlotPool}) and its event has completed, so its host memory is free to overwrite.
 * Owned by its {@link CudaCollator}; {@link #close()} frees every slot.
 */
public final class PinnedRing implements AutoCloseable {
    /** Host bytes before the compact batch: the error words read back from the device. */
    static final long HOST_HEADER = 64;

    private final CudaContext context;
    private final CUstream stream;
    private final SlotPool pool;
    private final Slot[] slots;
    private boolean closed;

    PinnedRing(CudaContext context, CUstream stream, int size) {
        this.context = context;
        this.stream = stream;
        this.pool = new SlotPool(size);
        this.slots = new Slot[size];
        for (int i = 0; i < size; i++) {
            slots[i] = new Slot(i);
        }
    }

    /** One slot. Its areas are valid while it is held. */
    final class Slot {
        final int index;
        private HostPointer hostPointer;
        private MemorySegment host = MemorySegment.NULL;
        private DeviceMemory input;
        private DeviceMemory output;
        final DeviceMemory words;
        final CUevent done = new CUevent();
        private final CUevent released = new CUevent();
        private boolean used;
        private boolean releasePending;
        long h2dBytes;

        Slot(int index) {
            this.index = index;
            context.makeCurrent();
            CudaException.check(JCudaDriver.cuEventCreate(done, CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
            CudaException.check(JCudaDriver.cuEventCreate(released, CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
            this.words = context.allocate(32);
        }

        /** Pinned host memory of at least {@code bytes} after the header. */
        MemorySegment host(long bytes) {
            long need = HOST_HEADER + bytes;
            if (host.byteSize() < need) {
                freeHost();
                long capacity = Math.max(need, Math.min(2 * host.byteSize(), need + (64L << 20)));
                HostPointer p = HostPointer.unallocated();
                context.makeCurrent();
                CudaException.check(JCudaDriver.cuMemHostAlloc(p, capacity, 0x01 /* CU_MEMHOSTALLOC_PORTABLE */),
                        "cuMemHostAlloc(" + capacity + " bytes)");
                hostPointer = p;
                host = MemorySegment.ofAddress(p.address()).reinterpret(capacity);
            }
            return host;
        }

        DeviceMemory input(long bytes) {
            input = grow(input, bytes);
            return input;
        }

        DeviceMemory output(long bytes) {
            output = grow(output, bytes);
            return output;
        }

        private DeviceMemory grow(DeviceMemory m, long bytes) {
            if (m != null && m.bytes() >= bytes) {
                return m;
            }
            if (m != null) {
                m.close();
            }
            return context.allocate(Math.max(bytes, m == null ? 0 : Math.min(2 * m.bytes(), bytes + (64L << 20))));
        }

        CUstream ringStream() {
            return stream;
        }

        /** The error words as read back from the device: [value error, too-long error], -1 when none. */
        MemorySegment hostWords() {
            return host.asSlice(0, 16);
        }

        /** Enqueues the error words' reset to -1 (no error), before a kernel that may report into them. */
        void clearErrorWords() {
            context.makeCurrent();
            CudaException.check(JCudaDriver.cuMemsetD8Async(words.at(0), (byte) 0xff, 16, stream), "cuMemsetD8Async");
        }

        /** Enqueues the error words' copy into {@link #hostWords()}, then marks the slot's work as enqueued. */
        void readBackErrorWordsAndRecordDone() {
            context.makeCurrent();
            CudaException.check(JCudaDriver.cuMemcpyDtoHAsync(HostPointer.to(hostWords()), words.at(0), 16, stream),
                    "cuMemcpyDtoHAsync");
            recordDone();
        }

        /** Marks the slot's work as enqueued: records its event on the ring's stream. */
        void recordDone() {
            context.makeCurrent();
            CudaException.check(JCudaDriver.cuEventRecord(done, stream), "cuEventRecord");
            used = true;
        }

        /** The consumer's stream finishes with this slot's output at this point of its work. */
        void releaseAfter(CUstream consumer) {
            context.makeCurrent();
            CudaException.check(JCudaDriver.cuEventRecord(released, consumer), "cuEventRecord");
            releasePending = true;
        }

        private void freeHost() {
            if (hostPointer != null) {
                context.makeCurrent();
                CudaException.check(JCudaDriver.cuMemFreeHost(hostPointer), "cuMemFreeHost");
                hostPointer = null;
                host = MemorySegment.NULL;
            }
        }

        private void free() {
            if (hostPointer != null) {
                JCudaDriver.cuMemFreeHost(hostPointer);
                hostPointer = null;
                host = MemorySegment.NULL;
            }
            for (DeviceMemory m : new DeviceMemory[] {input, output, words}) {
                if (m != null) {
                    m.close();
                }
            }
            JCudaDriver.cuEventDestroy(done);
            JCudaDriver.cuEventDestroy(released);
        }
    }

    /**
     * A free slot: waits for one to be released (up to {@code timeout}), then for its previous work to
     * finish on the device, and makes the ring's stream wait for a consumer's release, if one was given.
     */
    Slot acquire(Duration timeout) {
        int i;
        try {
            i = pool.acquire(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a ring slot", e);
        }
        Slot s = slots[i];
        try {
            context.makeCurrent();
            if (s.used) {
                CudaException.check(JCudaDriver.cuEventSynchronize(s.done), "cuEventSynchronize");
            }
            if (s.releasePending) {
                CudaException.check(JCudaDriver.cuStreamWaitEvent(stream, s.released, 0), "cuStreamWaitEvent");
                s.releasePending = false;
            }
        } catch (RuntimeException e) {
            pool.release(i);
            throw e;
        }
        s.h2dBytes = 0;
        return s;
    }

    void release(Slot s) {
        pool.release(s.index);
    }

    /** The slot accounting (K, in use, the most at once, how many handed out). */
    public SlotPool pool() {
        return pool;
    }

    CUstream stream() {
        return stream;
    }

    /** Waits for the ring's stream, then frees every slot's host and device memory and events. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        pool.close();
        if (!context.isClosed()) {
            context.makeCurrent();
            JCudaDriver.cuStreamSynchronize(stream);
            for (Slot s : slots) {
                s.free();
            }
        }
    }
}
