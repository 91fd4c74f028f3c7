package io.cubatch.loader;

import io.cubatch.collate.BackendProvider;
import io.cubatch.collate.Backends;
import io.cubatch.collate.BatchSlot;
import io.cubatch.collate.Collator;
import io.cubatch.collate.FilledBatch;
import io.cubatch.collate.HostSlot;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.collate.ResidentStore;
import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.PlannedBatch;
import io.cubatch.store.LengthStats;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Plan + store + collator: the batches of one rank, epoch by epoch, prepared ahead on worker threads.
 *
 * <p><b>Memory.</b> The loader owns the only ring: {@code prefetch} slots whose memory the backend provides
 * ({@link Collator#newSlot}), made when the loader is built and freed by {@link #close()}. On the host
 * backends a slot is host buffers sized once for the largest batch the store and padding allow, so steady
 * state allocates nothing off-heap. On the {@code cuda} backend (device mode) a slot is pinned staging,
 * device buffers, a stream and events: workers gather only the batches' real tokens and offsets into the
 * pinned staging, one async copy sends them, the device pads, and nothing is copied back; with
 * {@link Builder#residentOnDevice} the dataset is uploaded once and only indices travel. A {@link Batch} lives
 * in a slot until the consumer closes it; at most {@code prefetch} batches exist at once (backpressure), so
 * memory is bounded.
 *
 * <p><b>Order and determinism.</b> Batches come in step order, exactly the plan's (or, with bucketing,
 * its deterministic reordering), whatever the number of workers or the backend.
 *
 * <p><b>Failures.</b> A worker's failure of any kind (an exception, or an {@link Error} such as the
 * {@link InternalError} of a read from a memory-mapped file that shrank) reaches the consumer from
 * {@link Iterator#next()} as a {@link LoaderException} naming the step, rank and samples, and its ring slot
 * is returned. The failure ends the epoch: afterwards {@link Iterator#hasNext()} is {@code false} and every
 * further {@code next()} throws the same {@code LoaderException}; {@link #state()} stays after the last
 * batch delivered, so a resume from it retries the failed step; {@link #epoch} or {@link #resume} start
 * again with the whole ring.
 *
 * <p><b>Files that change.</b> Before each batch the loader checks that the files the store maps have not
 * shrunk ({@link SampleStore#checkMappedFiles()}), and fails that step with a {@code LoaderException}
 * naming the file. A file that shrinks <em>while</em> a batch is being read is not caught by that check:
 * the {@code java} backend then fails the step with the JDK's {@code InternalError}, but the {@code native}
 * backend's read in C is a SIGBUS that ends the JVM. Do not truncate or rewrite a dataset in place while it
 * is open: write a new file and rename it over the old one (an open mapping keeps the old file).
 *
 * <p><b>Closing.</b> {@link #close()} returns within a second, even mid-epoch with batches in flight: it
 * stops the workers, and frees the ring and closes their collators at once when they have stopped, or
 * else as soon as the last batch in flight ends (a batch in native code cannot be interrupted; the ring
 * memory it writes stays allocated until it returns). A closed loader refuses to iterate with
 * {@link IllegalStateException}.
 *
 * <p><b>Checkpoints.</b> {@link #state()} after each batch; {@link #resume(LoaderState)} continues with the
 * batches the uninterrupted loader would have produced. A plan built with
 * {@link BatchPlan.Builder#resumeAt resumeAt(consumed)} starts its own epoch at that point (the way to
 * resume with another world size, micro-batch size or ramp-up); the other epochs start from their
 * beginning. The checkpoint's hash is {@link BatchPlan#configHash(int)} with the bucketing window, so a
 * resume with another configuration is refused, naming the part that differs.
 *
 * <p><b>Micro-batches.</b> When the plan has micro-batches ({@link BatchPlan#microBatchSize()} below the
 * batch size), each {@link Batch} is one micro-batch ({@link Batch#microBatch()} of
 * {@link Batch#microBatches()}), padded to its own longest sample, and the ring's slots are sized for one
 * micro-batch. A checkpoint counts finished steps only, so a resume restarts an accumulation at its first
 * micro-batch. {@link Batch#globalRealTokens()} gives the step's real tokens over all ranks, from the plan
 * and the store, with no communication.
 *
 * <p>Not thread-safe: one consumer thread per loader.
 */
public final class BatchLoader implements AutoCloseable {
    /** How long {@link #close()} waits for the batches in flight before it leaves the rest to a closer thread. */
    private static final long CLOSE_WAIT_MILLIS = 500;

    private final SampleStore store;
    private final BatchPlan plan0;
    private final int rank;
    private final Padding padding;
    private final String backend;
    private final int prefetch;
    private final int bucketWindow;
    private final boolean pack;
    private final boolean ownedCopies;
    private final int device;
    private final ExecutorService workers;
    private final Collator main;
    private final ResidentStore resident;
    private final List<BatchSlot> ring = new ArrayList<>();
    private final BlockingQueue<BatchSlot> free;
    private final List<Collator> collators = new ArrayList<>();
    private final ThreadLocal<Collator> collator;
    private final LengthStats lengths;
    private final AtomicLong samples = new AtomicLong();
    private final AtomicLong tokens = new AtomicLong();
    private final AtomicLong paddedTokens = new AtomicLong();
    private final AtomicLong bytesMoved = new AtomicLong();
    private final AtomicLong h2dBytes = new AtomicLong();
    private long batches;
    private long waitNanos;
    private long firstRequest = -1;
    private long lastDelivery;
    private Epoch current;
    private volatile boolean closed;
    /** {@link #slotFigures()} as they were when the loader closed, for stats() after close. */
    private double[] closedSlotFigures;
    /** DLPack exports of this loader's batches whose deleter has not run: the ring outlives them. */
    private final Exports exports = new Exports();
    /** Counted down once the ring, the collators and the resident dataset are freed. */
    private final java.util.concurrent.CountDownLatch freed = new java.util.concurrent.CountDownLatch(1);

    private BatchLoader(Builder b) {
        this.store = b.store;
        this.plan0 = b.plan;
        this.rank = b.rankSet ? b.rank : b.plan.dataParallelRank().orElse(0);
        this.padding = b.padding;
        this.backend = b.backend == null ? (b.device >= 0 ? "cuda" : Backends.bestName()) : b.backend;
        this.device = b.device;
        this.prefetch = b.prefetch;
        this.bucketWindow = b.bucketWindow;
        this.pack = b.pack;
        this.ownedCopies = b.ownedCopies;
        // fails now, with the reason, when the backend or the device is unavailable
        this.main = Backends.create(backend, device);
        ResidentStore up = null;
        try {
            boolean onDevice = Backends.providers().stream().anyMatch(p -> p.name().equals(main.name())
                    && p.memory() == BackendProvider.Memory.DEVICE);
            if (onDevice && ownedCopies) {
                throw new IllegalArgumentException("owned copies are host memory: the " + backend + " backend's batches"
                        + " stay on the device (choose java or native, or drop ownedCopies)");
            }
            if (b.resident && !onDevice) {
                throw new IllegalArgumentException("a device-resident dataset needs a device backend (cuda), not "
                        + backend);
            }
            this.lengths = LengthStats.of(store);
            long longest = padding.limit(lengths.max());
            int rows = plan0.microBatchSize();   // a batch is a micro-batch when the plan has them
            PaddedShape largest = new PaddedShape(rows, padding.outputLength(pack ? padding.limit(0)
                    : Math.max(longest, padding.maxlen().orElse(0))), Math.max(1, store.features()),
                    longest, padding.dtype(), padding.positions());
            // the whole ring is sized before any of it is allocated: prefetch x the largest batch
            long slotBytes;
            long ringBytes;
            try {
                slotBytes = Math.addExact(Math.addExact(Math.addExact(largest.dataBytes(), largest.lengthsBytes()),
                        Math.addExact(largest.maskBytes(), largest.positionsBytes())), 4L * (rows + 1) + 8);
                ringBytes = Math.multiplyExact(slotBytes, (long) prefetch);
            } catch (ArithmeticException e) {
                slotBytes = ringBytes = Long.MAX_VALUE;
            }
            long each = slotBytes;
            String upTo = "[" + largest.batch() + ", " + largest.length() + (largest.features() > 1 ? ", "
                    + largest.features() : "") + "] " + largest.dtype().cliName();
            io.cubatch.store.NativeMemory.require(ringBytes, () -> "a ring of " + prefetch + " slots for batches up to "
                    + upTo + (each == Long.MAX_VALUE ? " (over 2^63-1 bytes)" : " (" + each + " bytes each)"),
                    "lower prefetch (CLI --prefetch), the batch size or maxlen");
            this.free = new ArrayBlockingQueue<>(prefetch);
            for (int i = 0; i < prefetch; i++) {
                BatchSlot slot = main.newSlot(largest, rows, padding);
                ring.add(slot);
                free.add(slot);
            }
            if (b.resident) {
                up = main.upload(store, b.residentBudget);
            }
        } catch (RuntimeException | Error e) {
            List<AutoCloseable> made = new ArrayList<>(ring);
            if (up != null) {
                made.add(up);
            }
            made.add(main);
            try {
                closeAll(made);
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        this.resident = up;
        this.workers = Executors.newFixedThreadPool(b.workers, r -> {
            Thread t = new Thread(r, "cubatch-loader-worker");
            t.setDaemon(true);
            return t;
        });
        Supplier<Collator> factory = b.collators != null ? b.collators : () -> Backends.create(backend, device);
        this.collator = ThreadLocal.withInitial(() -> {
            Collator c = factory.get();
            synchronized (collators) {
                collators.add(c);
            }
            return c;
        });
    }

    /**
     * A builder; {@link Builder#store}, {@link Builder#plan} and {@link Builder#padding} are required.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The store's sequence lengths, measured once when the loader sized its ring.
     *
     * @return the length statistics of the whole store
     */
    public LengthStats datasetLengths() {
        return lengths;
    }

    /**
     * The plan of epoch {@code e}: the loader's plan as given for its own epoch (with its resume point), and
     * re-seeded from the start of the epoch for the others.
     *
     * @param e the epoch, at least 0
     * @return the plan of that epoch
     */
    public BatchPlan plan(long e) {
        return e == plan0.epoch() ? plan0 : plan0.forEpoch(e);
    }

    /**
     * The batches of epoch {@code e}: from the plan's resume point ({@link BatchPlan#resumeAt()}) for the
     * plan's own epoch, from the start for the others. Starting an epoch ends the previous one, and waits for
     * its batches in flight to give their slots back.
     *
     * @param e the epoch, at least 0
     * @return the iterator of this rank's batches; each {@link Batch} must be closed to free its slot
     * @throws IllegalStateException when the loader is closed
     */
    public Iterator<Batch> epoch(long e) {
        return start(plan(e), 0);
    }

    /**
     * Continues from a checkpoint with exactly the batches the uninterrupted loader would have produced.
     *
     * @param state a state from {@link #state()} of a loader with the same configuration
     * @return the iterator of the remaining batches of the state's epoch
     * @throws IllegalArgumentException when the state comes from another plan, or does not fall on a step
     * @throws IllegalStateException when the loader is closed
     */
    public Iterator<Batch> resume(LoaderState state) {
        checkOpen();
        BatchPlan p = plan(state.epoch());
        long hash = p.configHash(bucketWindow);
        if (state.planHash() != hash) {
            throw new IllegalArgumentException("checkpoint plan hash " + Long.toHexString(state.planHash())
                    + " differs from this loader's " + Long.toHexString(hash) + " in "
                    + BatchPlan.describeHashDifference(state.planHash(), hash) + ": resume with the configuration"
                    + " it was saved with; for another world size, micro-batch size or ramp-up, build the plan with"
                    + " resumeAt(" + state.consumedSamples() + ") instead (CLI run --resume-at "
                    + state.consumedSamples() + ")");
        }
        long consumed = state.consumedSamples();
        if (consumed < 0 || consumed > p.samples()) {
            throw new IllegalArgumentException("consumed samples " + consumed + " is outside [0, " + p.samples()
                    + "]: not a state this loader wrote");
        }
        if (consumed >= p.resumeAt()) {
            long step = p.stepAtConsumed(consumed);
            if (step < 0) {
                throw new IllegalArgumentException("consumed samples " + consumed + " is not where a step of this"
                        + " plan starts (" + p.resumeAt() + " plus whole global batches, or " + p.samples()
                        + " for a finished epoch): not a state this loader wrote");
            }
            return start(p, step);
        }
        // a checkpoint before this plan's resume point: the plan's batches from there
        return start(p.toBuilder().resumeAt(consumed).build(), 0);
    }

    /**
     * The checkpoint after the last batch handed out.
     *
     * @return the epoch, consumed samples and plan hash to save
     * @throws IllegalStateException when the loader is closed
     */
    public LoaderState state() {
        checkOpen();
        if (current == null) {
            return new LoaderState(plan0.epoch(), plan0.resumeAt(), plan0.configHash(bucketWindow));
        }
        return new LoaderState(current.plan.epoch(), current.plan.consumedAfter(current.stepsDone()),
                current.plan.configHash(bucketWindow));
    }

    /**
     * What the loader has delivered so far, over all epochs, and the memory its ring holds; readable after close.
     *
     * @return a snapshot of the counters
     */
    public LoaderStats stats() {
        double[] slots = closed ? closedSlotFigures : slotFigures();
        long timed = (long) slots[2];
        return new LoaderStats(samples.get(), tokens.get(), batches, paddedTokens.get(), bytesMoved.get(),
                (long) slots[0], waitNanos, firstRequest < 0 ? 0 : lastDelivery - firstRequest, backend,
                deviceMode() ? device() : -1, h2dBytes.get(), 0, deviceMode() ? 16L * timed : 0,
                deviceMode() ? (timed == 0 ? 0 : slots[1] / timed) : Double.NaN);
    }

    /** The slots' bytes held, device milliseconds and timed batches, summed. */
    private double[] slotFigures() {
        double[] f = new double[3];
        for (BatchSlot slot : ring) {
            f[0] += slot.bytesHeld();
            f[1] += slot.deviceMillis();
            f[2] += slot.timedBatches();
        }
        return f;
    }

    /**
     * Whether batches are on a device (the cuda backend): {@link Batch#deviceTensors()} instead of padded().
     *
     * @return true for device batches
     */
    public boolean deviceMode() {
        return ring.get(0).memory() == BackendProvider.Memory.DEVICE;
    }

    /**
     * The GPU batches are built on, -1 for host batches.
     *
     * @return the CUDA device ordinal, or -1
     */
    public int device() {
        return ring.get(0).device();
    }

    /**
     * The dataset's device-resident copy, when {@link Builder#residentOnDevice} asked for one.
     *
     * @return the resident copy, owned and closed by the loader, or empty
     */
    public java.util.Optional<ResidentStore> resident() {
        return java.util.Optional.ofNullable(resident);
    }

    private Iterator<Batch> start(BatchPlan p, long fromStep) {
        checkOpen();
        if (current != null) {
            current.drain();
        }
        current = new Epoch(p, fromStep);
        return current;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("loader is closed");
        }
    }

    /**
     * One epoch's iteration: submits units while slots are free, hands them out in order. A unit is a step,
     * or, when the plan has micro-batches, one micro-batch of a step.
     */
    private final class Epoch implements Iterator<Batch> {
        final BatchPlan plan;
        final Bucketing bucketing;
        final boolean micro;
        final long stepCount;
        /** Units of the epoch. */
        final long steps;
        long submitted;
        long delivered;
        final ArrayDeque<Future<Batch>> pending = new ArrayDeque<>();
        /** Set when the epoch ends early (failure, another epoch, close): steps not yet started give their slot back. */
        volatile boolean stopped;
        /** The failure that ended the epoch, thrown again by every later next(). */
        LoaderException failure;

        Epoch(BatchPlan plan, long fromStep) {
            this.plan = plan;
            this.bucketing = bucketWindow > 0 ? new Bucketing(plan, store, bucketWindow) : null;
            this.micro = plan.microBatchSize() < plan.batchSize();
            this.stepCount = plan.steps(rank);
            this.steps = micro ? plan.microBatchCount(rank) : stepCount;
            long from = fromStep >= stepCount ? steps : micro ? plan.microBatchesBefore(fromStep) : fromStep;
            this.submitted = from;
            this.delivered = from;
        }

        /** The step of unit {@code u}. */
        long stepOf(long u) {
            return micro ? plan.stepOfMicroBatch(u) : u;
        }

        /** Steps whose every unit was handed out: a step in progress counts only when its last unit is out. */
        long stepsDone() {
            return delivered >= steps ? stepCount : stepOf(delivered);
        }

        /** Rank {@code r}'s batch at {@code step}, bucketed when the loader buckets. */
        PlannedBatch batchOf(int r, long step) {
            return bucketing != null ? bucketing.batch(r, step) : plan.batch(r, step);
        }

        /** Real tokens over all ranks at {@code step}, of micro-batch {@code j} only when j >= 0. */
        long globalTokens(long step, int j) {
            long sum = 0;
            for (int r = 0; r < plan.worldSize(); r++) {
                if (step >= plan.steps(r)) {
                    continue;
                }
                PlannedBatch b = batchOf(r, step);
                if (j >= 0) {
                    if (j >= Math.ceilDiv(b.size(), plan.microBatchSize())) {
                        continue;
                    }
                    b = BatchPlan.slice(b, j, plan.microBatchSize());
                }
                for (long id : b.samples()) {
                    sum += realLength(id);
                }
            }
            return sum;
        }

        @Override
        public boolean hasNext() {
            checkOpen();
            return current == this && failure == null && delivered < steps;
        }

        @Override
        public Batch next() {
            checkOpen();
            if (failure != null) {
                throw failure;
            }
            if (!hasNext()) {
                if (current != this) {
                    throw new IllegalStateException("this epoch was replaced by a later epoch() or resume()");
                }
                throw new NoSuchElementException("epoch " + plan.epoch() + " has " + steps + (micro ? " micro-batches"
                        : " steps") + " for rank " + rank);
            }
            long t0 = System.nanoTime();
            if (firstRequest < 0) {
                firstRequest = t0;
            }
            BatchSlot slot;
            while (submitted < steps && (slot = free.poll()) != null) {
                long step = submitted++;
                BatchSlot s = slot;
                pending.add(workers.submit(() -> run(step, s)));
            }
            if (pending.isEmpty()) {
                throw new IllegalStateException("all " + prefetch + " prefetch slots are held by batches not yet"
                        + " closed: close each Batch before taking the next (or raise prefetch)");
            }
            Future<Batch> head = pending.poll();
            Batch b;
            try {
                b = head.get();
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                throw fail(cause instanceof LoaderException le ? le
                        : new LoaderException("step " + delivered + ", rank " + rank + " of epoch " + plan.epoch()
                                + ": worker failed: " + cause, cause));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                pending.addFirst(head);   // drain() still waits for it, so its slot comes back
                throw fail(new LoaderException("step " + delivered + ", rank " + rank + " of epoch " + plan.epoch()
                        + ": interrupted while waiting for the batch", e));
            }
            long now = System.nanoTime();
            waitNanos += now - t0;
            lastDelivery = now;
            delivered++;
            batches++;
            return ownedCopies ? copyOf(b) : b;
        }

        /** Ends the epoch with {@code e}: no more steps start; the ones in flight finish and wait for drain(). */
        private LoaderException fail(LoaderException e) {
            failure = e;
            stop();
            return e;
        }

        /** A worker's step: skipped (slot given back) once the epoch has stopped. */
        private Batch run(long step, BatchSlot slot) {
            if (stopped) {
                free.add(slot);
                throw new CancellationException("epoch " + plan.epoch() + " stopped before step " + step);
            }
            return prepare(step, slot);
        }

        private Batch prepare(long unit, BatchSlot slot) {
            PlannedBatch planned = null;
            long step = stepOf(unit);
            try {
                planned = batchOf(rank, step);
                int j = micro ? (int) (unit - plan.microBatchesBefore(step)) : 0;
                int micros = micro ? Math.ceilDiv(planned.size(), plan.microBatchSize()) : 1;
                if (micro) {
                    planned = BatchPlan.slice(planned, j, plan.microBatchSize());
                }
                Batch made = collate(planned, slot);
                made.global(j, micros, () -> globalTokens(step, -1), micro ? () -> globalTokens(step, j)
                        : () -> globalTokens(step, -1));
                return made;
            } catch (Throwable e) {
                // any failure, Errors included (the InternalError of a read past the end of a shrunk mapping)
                free.add(slot);
                String ids = planned == null ? "" : ", samples " + describe(planned.samples());
                throw new LoaderException("step " + step + ", rank " + rank + " of epoch " + plan.epoch() + ids
                        + ": " + why(e), e);
            }
        }

        /** Collates one planned batch into the slot. */
        private Batch collate(PlannedBatch planned, BatchSlot slot) {
            long[] indices = planned.samples();
            store.checkMappedFiles();   // a shrunk file read past its end is a SIGBUS: refuse it first
            if (pack) {
                FilledBatch f = collator.get().fillPacked(slot, store, indices, padding);
                FilledBatch.Packing packing = f.packing().orElseThrow();
                MemorySegment cu = packing.hostCuSeqlens().orElse(null);
                long sent = f.device().map(io.cubatch.collate.DeviceTensors::h2dBytes).orElse(0L);
                count(indices.length, f.realTokens(), f.shape(), 4L * (indices.length + 1), sent);
                return new Batch(planned, f.host().orElse(null), f.device().orElse(null), packing.layout().rows(),
                        cu, f.realTokens(), () -> free.add(slot), () -> closed, packing.layout().maxSeqlen())
                        .exportsCountedBy(exports);
            }
            Collator c = collator.get();
            FilledBatch f = resident != null ? c.fill(slot, resident, indices, padding)
                    : c.fill(slot, store, indices, padding);
            long sent = f.device().map(io.cubatch.collate.DeviceTensors::h2dBytes).orElse(0L);
            count(indices.length, f.realTokens(), f.shape(), 0, sent);
            return new Batch(planned, f.host().orElse(null), f.device().orElse(null), indices.length, null,
                    f.realTokens(), () -> free.add(slot), () -> closed, -1).exportsCountedBy(exports);
        }

        private void count(int rows, long real, PaddedShape sh, long cuBytes, long sent) {
            samples.addAndGet(rows);
            tokens.addAndGet(real);
            paddedTokens.addAndGet((long) sh.batch() * sh.length());
            bytesMoved.addAndGet(sh.dataBytes() + 4L * rows + sh.maskBytes() + sh.positionsBytes() + cuBytes);
            h2dBytes.addAndGet(sent);
        }

        /** Stops the epoch without waiting: no step starts any more; those running finish. */
        void stop() {
            stopped = true;
            submitted = steps;
        }

        /**
         * Stops the epoch and waits for the steps in flight (each takes milliseconds), closing the batches
         * they made, so that every slot is back for the next epoch.
         */
        void drain() {
            stop();
            boolean interrupted = false;
            for (Future<Batch> f : pending) {
                while (true) {
                    try {
                        f.get().close();
                        break;
                    } catch (ExecutionException | CancellationException failed) {
                        break;   // a failed or skipped step gave its slot back itself
                    } catch (InterruptedException e) {
                        interrupted = true;   // the slot must come back: wait on, and keep the interrupt
                    }
                }
            }
            pending.clear();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** A sample's real length: its stored length, truncated to the padding's maxlen. */
    private long realLength(long id) {
        long l = store.length(id);
        return padding.maxlen().isPresent() ? Math.min(l, padding.maxlen().getAsLong()) : l;
    }

    /** A failure's message; for an Error from reading a mapping, which file shrank, when one did. */
    private String why(Throwable e) {
        if (e instanceof RuntimeException && e.getMessage() != null) {
            return e.getMessage();
        }
        try {
            store.checkMappedFiles();
        } catch (RuntimeException shrunk) {
            return shrunk.getMessage() + " (" + e + ")";
        }
        return e.toString();
    }

    private static String describe(long[] ids) {
        return ids.length <= 8 ? Arrays.toString(ids)
                : Arrays.toString(Arrays.copyOf(ids, 8)).replace("]", ", ... (" + ids.length + " in all)]");
    }

    /** Copies a batch into memory of its own, and returns the slot at once. */
    private Batch copyOf(Batch b) {
        Arena own = Arena.ofShared();
        try {
            PaddedBatch src = b.padded();
            PaddedBatch dst = PaddedBatch.allocate(src.shape(), own);
            MemorySegment.copy(src.data(), 0, dst.data(), 0, src.shape().dataBytes());
            MemorySegment.copy(src.lengths(), 0, dst.lengths(), 0, src.shape().lengthsBytes());
            MemorySegment.copy(src.attentionMask(), 0, dst.attentionMask(), 0, src.shape().maskBytes());
            if (src.shape().positions()) {
                MemorySegment.copy(src.positions(), 0, dst.positions(), 0, src.shape().positionsBytes());
            }
            MemorySegment cu = null;
            if (b.isPacked()) {
                cu = own.allocate(b.cuSeqlens().byteSize(), 4);
                MemorySegment.copy(b.cuSeqlens(), 0, cu, 0, cu.byteSize());
            }
            Batch copy = new Batch(b.planned(), dst, null, b.rows(), cu, b.realTokens(), own::close, () -> false,
                    b.isPacked() ? b.maxSeqlen() : -1);
            copy.global(b.microBatch(), b.microBatches(), b::globalRealTokens, b::globalMicroBatchRealTokens);
            b.close();
            return copy;
        } catch (RuntimeException | Error e) {
            own.close();
            throw e;
        }
    }

    /**
     * Stops the workers and frees the ring, returning within a second. Steps not started are dropped; the
     * loader waits half a second for the steps in flight, then frees the ring and closes the workers'
     * collators. When a step is still running after that (a slow batch), the ring is freed at once if no
     * native call holds it (a Java worker still writing into it then fails, safely), and whatever is still
     * in use is freed by a daemon thread as soon as the last step ends. Batches still open become invalid.
     *
     * <p>A tensor exported with {@link Batch#toDLPack} is read by code the JVM cannot stop, so while any
     * export's deleter has not run, nothing is freed: the daemon thread frees the ring, the collators and the
     * resident dataset when the last deleter runs (a consumer that never calls it keeps them). Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closedSlotFigures = slotFigures();
        closed = true;   // before exports.live(): an export that starts later sees it and is refused (Batch.toDLPack)
        if (current != null) {
            current.stop();
        }
        workers.shutdownNow();
        boolean stopped = false;
        try {
            stopped = workers.awaitTermination(CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        boolean exported = exports.live() > 0;
        if (stopped && !exported) {
            free(everything());
            return;
        }
        List<AutoCloseable> rest = exported ? everything() : closeSlotsUnlessHeld();
        Thread closer = new Thread(() -> {
            try {
                while (!workers.awaitTermination(1, TimeUnit.MINUTES)) {
                    // a step still running: its memory must outlive it
                }
                exports.awaitNone();   // a DLPack consumer still reading: the same
            } catch (InterruptedException e) {
                return;   // only this thread's owner could interrupt it, and no one does
            }
            free(rest);   // a failure here goes to the thread's uncaught-exception handler (stderr)
        }, "cubatch-loader-closer");
        closer.setDaemon(true);
        closer.start();
    }

    /** Waits until {@link #close()} has freed everything (at once, or after the last DLPack deleter); tests. */
    boolean awaitFreed(long millis) throws InterruptedException {
        return freed.await(millis, TimeUnit.MILLISECONDS);
    }

    /** Closes the workers' collators, then {@code owned}, all of them even when one fails; then counts freed down. */
    private void free(List<AutoCloseable> owned) {
        try {
            closeCollators();
        } finally {
            try {
                closeAll(owned);
            } finally {
                freed.countDown();
            }
        }
    }

    /** The ring, the resident dataset and the main collator: what close() frees after the workers' collators. */
    private List<AutoCloseable> everything() {
        return withSharedOwners(new ArrayList<>(ring));
    }

    /** Adds what the slots' users share (the resident dataset, the main collator) after the given slots. */
    private List<AutoCloseable> withSharedOwners(List<AutoCloseable> slots) {
        if (resident != null) {
            slots.add(resident);
        }
        slots.add(main);
        return slots;
    }

    /** Counts the DLPack exports whose deleter has not run; the deleter may run on any thread. */
    static final class Exports {
        private int live;

        synchronized void enter() {
            live++;
        }

        synchronized void exit() {
            if (--live == 0) {
                notifyAll();
            }
        }

        synchronized int live() {
            return live;
        }

        synchronized void awaitNone() throws InterruptedException {
            while (live > 0) {
                wait();
            }
        }
    }

    /**
     * Frees the host slots no native call holds (their arena refuses otherwise); returns what must wait for
     * the steps still running: the held host slots, the device slots, the resident dataset, the main collator.
     */
    private List<AutoCloseable> closeSlotsUnlessHeld() {
        List<AutoCloseable> rest = new ArrayList<>();
        for (BatchSlot s : ring) {
            if (s instanceof HostSlot h) {
                try {
                    h.close();
                    continue;
                } catch (IllegalStateException heldByANativeCall) {
                    // falls through: closed later
                }
            }
            rest.add(s);
        }
        return withSharedOwners(rest);
    }

    /** Closes each, all of them even when one fails; then throws the first failure. */
    static void closeAll(List<? extends AutoCloseable> owned) {
        RuntimeException first = null;
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                RuntimeException r = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                if (first == null) {
                    first = r;
                } else {
                    first.addSuppressed(r);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Closes every worker's collator, all of them even when one fails; then throws the first failure. */
    private void closeCollators() {
        RuntimeException first = null;
        synchronized (collators) {
            for (Collator c : collators) {
                try {
                    c.close();
                } catch (RuntimeException e) {
                    if (first == null) {
                        first = e;
                    } else {
                        first.addSuppressed(e);
                    }
                }
            }
            collators.clear();
        }
        if (first != null) {
            throw first;
        }
    }

    /** Collects the loader's settings; {@link #build()} validates them and allocates the ring. Not thread-safe. */
    public static final class Builder {
        private SampleStore store;
        private BatchPlan plan;
        private int rank;
        private boolean rankSet;
        private Padding padding;
        private String backend;
        private int prefetch = 4;
        private int workers = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
        private int bucketWindow;
        private boolean pack;
        private boolean ownedCopies;
        private int device = -1;
        private boolean resident;
        private long residentBudget;
        private Supplier<Collator> collators;

        private Builder() {
        }

        /**
         * The samples to load; required. The loader reads it and does not close it: keep it open until the loader is
         * closed.
         *
         * @param store the store; its size must equal the plan's samples
         * @return this builder
         */
        public Builder store(SampleStore store) {
            this.store = store;
            return this;
        }

        /**
         * The plan. {@link BatchLoader#epoch} of the plan's own epoch starts at the plan's resume point; other
         * epochs get the plan re-seeded for them, from their start.
         *
         * @param plan the plan; required
         * @return this builder
         */
        public Builder plan(BatchPlan plan) {
            this.plan = plan;
            return this;
        }

        /**
         * The (data-parallel) rank this loader serves, in [0, plan world size); the plan's data-parallel rank, else 0,
         * unless set.
         *
         * @param rank the rank
         * @return this builder
         */
        public Builder rank(int rank) {
            this.rank = rank;
            this.rankSet = true;
            return this;
        }

        /**
         * How batches are padded (or, with {@link #pack}, packed); required.
         *
         * @param padding the padding
         * @return this builder
         */
        public Builder padding(Padding padding) {
            this.padding = padding;
            return this;
        }

        /**
         * java, native or cuda (device mode: batches stay on the GPU); the fastest host backend unless set, or
         * cuda when a {@link #device} is set.
         *
         * @param backend the backend's name
         * @return this builder
         */
        public Builder backend(String backend) {
            this.backend = backend;
            return this;
        }

        /**
         * The GPU of a device backend (default: none, host batches; the cuda backend alone takes device 0).
         *
         * @param device the CUDA device ordinal, or -1 for host batches
         * @return this builder
         */
        public Builder device(int device) {
            this.device = device;
            return this;
        }

        /**
         * Uploads the dataset to the device once, when it needs at most {@code budgetBytes} there (a clear
         * error names both sizes when it does not); each batch then sends only its indices.
         *
         * @param budgetBytes the most device bytes the dataset may take, at least 0
         * @return this builder
         */
        public Builder residentOnDevice(long budgetBytes) {
            this.resident = true;
            this.residentBudget = budgetBytes;
            return this;
        }

        /**
         * Slots in the ring: batches prepared ahead plus batches the consumer holds (default 4).
         *
         * @param slots the number of slots, at least 1
         * @return this builder
         */
        public Builder prefetch(int slots) {
            this.prefetch = slots;
            return this;
        }

        /**
         * Worker threads (default: cores, at most 4).
         *
         * @param workers the number of threads, at least 1
         * @return this builder
         */
        public Builder workers(int workers) {
            this.workers = workers;
            return this;
        }

        /**
         * Length bucketing over windows of this many batches; 0 (default) is off.
         *
         * @param windowBatches the window, in batches, at least 0
         * @return this builder
         */
        public Builder bucket(int windowBatches) {
            this.bucketWindow = windowBatches;
            return this;
        }

        /**
         * Pack sequences first-fit into rows of the padding's maxlen, with cu_seqlens (needs maxlen).
         *
         * @param pack true to pack
         * @return this builder
         */
        public Builder pack(boolean pack) {
            this.pack = pack;
            return this;
        }

        /**
         * Hand out batches that own their memory (a copy), instead of ring slots.
         *
         * @param owned true for owned copies (host backends only)
         * @return this builder
         */
        public Builder ownedCopies(boolean owned) {
            this.ownedCopies = owned;
            return this;
        }

        /** Tests: where each worker's collator comes from, instead of {@link Backends#create} of the backend. */
        Builder collators(Supplier<Collator> factory) {
            this.collators = factory;
            return this;
        }

        /**
         * Validates the settings, opens the backend and allocates the whole ring ({@code prefetch} slots for the
         * largest batch); on any failure what was allocated is freed.
         *
         * @return the loader; close it to free the ring, the collators and any resident copy
         * @throws IllegalArgumentException when a setting is missing or invalid, or the backend or device is
         *     unavailable, naming the value and the fix
         * @throws io.cubatch.store.InsufficientMemoryException when the ring would not fit the native memory available
         */
        public BatchLoader build() {
            if (store == null || plan == null || padding == null) {
                throw new IllegalArgumentException("a loader needs a store, a plan and a padding");
            }
            if (plan.samples() != store.size()) {
                throw new IllegalArgumentException("the plan covers " + plan.samples() + " samples but the store holds "
                        + store.size() + ": build the plan with samples(" + store.size() + ")");
            }
            if (rank < 0 || rank >= plan.worldSize()) {
                throw new IllegalArgumentException("rank " + rank + " is outside [0, " + (plan.worldSize() - 1)
                        + "] for world size " + plan.worldSize());
            }
            if (prefetch < 1 || workers < 1) {
                throw new IllegalArgumentException("prefetch and workers must be at least 1, got " + prefetch
                        + " and " + workers);
            }
            if (bucketWindow < 0) {
                throw new IllegalArgumentException("bucket window must be >= 0 batches, got " + bucketWindow);
            }
            if (bucketWindow > 0 && plan.maxTokens().isPresent()) {
                throw new IllegalArgumentException("--bucket " + bucketWindow + " regroups samples into batches of a"
                        + " fixed size, which would break the token budget: sort the plan's windows instead"
                        + " (BatchPlan.Builder.sortWindow, CLI --sort-window N)");
            }
            if (device < -1) {
                throw new IllegalArgumentException("device " + device + " is not a GPU number (0, 1, ...)");
            }
            if (resident && residentBudget < 0) {
                throw new IllegalArgumentException("device-resident budget " + residentBudget + " bytes is negative");
            }
            if (pack && padding.maxlen().isEmpty()) {
                throw new IllegalArgumentException("packing fills rows of maxlen tokens: set the padding's maxlen"
                        + " (CLI --maxlen)");
            }
            return new BatchLoader(this);
        }
    }
}
