package io.cubatch.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * K reusable slots for batches in flight on one stream. Each slot owns page-locked host memory
 * ({@code cuMemHostAlloc} through {@code java.lang.foreign}, any size, a {@link MemorySegment} owned by the
 * slot's Arena so the host gathers straight into it and no slice outlives it),
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

    /** @throws CudaException when a slot cannot be made; the slots made before it are freed first */
    PinnedRing(CudaContext context, CUstream stream, int size) {
        this.context = context;
        this.stream = stream;
        this.pool = new SlotPool(size);
        this.slots = new Slot[size];
        try {
            for (int i = 0; i < size; i++) {
                slots[i] = new Slot(i);
            }
        } catch (RuntimeException e) {
            for (Slot s : slots) {
                if (s != null) {
                    try {
                        s.free();
                    } catch (RuntimeException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
            }
            throw e;
        }
    }

    /** One slot. Its areas are valid while it is held. */
    final class Slot {
        final int index;
        private Arena hostArena;
        private MemorySegment host = MemorySegment.NULL;
        private DeviceMemory input;
        private DeviceMemory output;
        final DeviceMemory words;
        final CUevent done = new CUevent();
        private final CUevent released = new CUevent();
        private boolean used;
        private boolean releasePending;
        long h2dBytes;

        private boolean doneMade;
        private boolean releasedMade;

        /** A slot without host or data areas yet; what it made is destroyed again when a later step fails. */
        Slot(int index) {
            this.index = index;
            DeviceMemory w = null;
            try {
                context.makeCurrent();
                CudaException.check(JCudaDriver.cuEventCreate(done, CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
                doneMade = true;
                CudaException.check(JCudaDriver.cuEventCreate(released, CUevent_flags.CU_EVENT_DISABLE_TIMING),
                        "cuEventCreate");
                releasedMade = true;
                w = context.allocate(32);
            } catch (RuntimeException e) {
                destroyEvents();
                throw e;
            }
            this.words = w;
        }

        /** Pinned host memory of at least {@code bytes} after the header. */
        MemorySegment host(long bytes) {
            long need = HOST_HEADER + bytes;
            if (host.byteSize() < need) {
                long capacity = Math.max(need, Math.min(2 * host.byteSize(), need + (64L << 20)));
                freeHost();
                Arena arena = Arena.ofShared();
                try {
                    host = context.allocatePinned(capacity, arena);
                } catch (RuntimeException e) {
                    arena.close();
                    throw e;
                }
                hostArena = arena;
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

        /** Frees the pinned block (its Arena), after which no segment of it is accessible. */
        private void freeHost() {
            if (hostArena != null) {
                Arena a = hostArena;
                hostArena = null;
                host = MemorySegment.NULL;
                a.close();
            }
        }

        private void destroyEvents() {
            if (doneMade) {
                doneMade = false;
                JCudaDriver.cuEventDestroy(done);
            }
            if (releasedMade) {
                releasedMade = false;
                JCudaDriver.cuEventDestroy(released);
            }
        }

        /** Frees everything the slot holds; every step runs even when an earlier one fails. */
        private void free() {
            RuntimeException first = null;
            Runnable[] steps = {this::freeHost, () -> close(input), () -> close(output), () -> close(words),
                this::destroyEvents};
            for (Runnable step : steps) {
                try {
                    step.run();
                } catch (RuntimeException e) {
                    if (first == null) {
                        first = e;
                    } else {
                        first.addSuppressed(e);
                    }
                }
            }
            input = null;
            output = null;
            if (first != null) {
                throw first;
            }
        }

        private static void close(DeviceMemory m) {
            if (m != null) {
                m.close();
            }
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

    /**
     * Waits for the ring's stream, then frees every slot's host and device memory and events (all of them,
     * even when one fails; the first failure is thrown after).
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        pool.close();
        RuntimeException first = null;
        try {
            context.makeCurrent();
            CudaException.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
        } catch (RuntimeException e) {
            first = e;
        }
        for (Slot s : slots) {
            try {
                s.free();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
