package io.cubatch.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.Backends;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.Padding;
import io.cubatch.plan.BatchPlan;
import io.cubatch.store.DType;
import io.cubatch.store.DatasetFormatException;
import io.cubatch.store.Datasets;
import io.cubatch.store.NpyWriter;
import io.cubatch.store.SampleStore;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Worker failures of every kind, files that shrink under a mapping, and close() while batches are slow. */
class BatchLoaderFailureTest {
    @TempDir
    Path dir;

    static SampleStore corpus;

    @BeforeAll
    static void makeCorpus() {
        corpus = SyntheticCorpus.generate(400, 40, 400, 1000, 7);
    }

    @AfterAll
    static void freeCorpus() {
        corpus.close();
    }

    /** What a test collator does before the real one pads: sleep, throw, truncate a file. */
    interface BeforePad {
        void run(long[] indices, PaddedBatch out) throws Exception;
    }

    /** A backend's collator with a hook before each pad; counts the collators made and closed. */
    static final class HookedCollator implements Collator {
        final Collator inner;
        final BeforePad hook;
        final AtomicInteger closes;

        HookedCollator(Collator inner, BeforePad hook, AtomicInteger closes) {
            this.inner = inner;
            this.hook = hook;
            this.closes = closes;
        }

        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public void pad(SampleStore store, long[] indices, Padding padding, PaddedBatch out) {
            try {
                hook.run(indices, out);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            inner.pad(store, indices, padding, out);
        }

        @Override
        public void stack(SampleStore store, long[] indices, io.cubatch.store.DType dtype, MemorySegment out) {
            inner.stack(store, indices, dtype, out);
        }

        @Override
        public void close() {
            inner.close();
            closes.incrementAndGet();
        }
    }

    static Padding int32() {
        return Padding.builder().side(PadSide.POST).dtype(DType.INT32).build();
    }

    /** 8 samples of 1..8, batches of 2, prefetch 4, 2 workers, the hook before every pad. */
    static BatchLoader small(SampleStore s, String backend, BeforePad hook, AtomicInteger made, AtomicInteger closed) {
        return BatchLoader.builder().store(s).plan(BatchPlan.builder().samples(s.size()).batchSize(2).build())
                .padding(int32()).backend(backend).prefetch(4).workers(2).collators(() -> {
                    made.incrementAndGet();
                    return new HookedCollator(Backends.create(backend), hook, closed);
                }).build();
    }

    static SampleStore eight() {
        return SampleStore.of(new int[][] {{1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}});
    }

    /** Takes every slot of the ring at once: fails when a slot was lost. */
    static void holdEverySlot(BatchLoader l, long epoch, int slots) {
        Iterator<Batch> it = l.epoch(epoch);
        List<Batch> held = new ArrayList<>();
        for (int i = 0; i < slots; i++) {
            held.add(it.next());
        }
        for (int i = 0; i < slots; i++) {
            assertEquals(i, held.get(i).step());
            held.get(i).close();
        }
    }

    @Test
    void anErrorInAWorkerNamesStepRankAndSamplesAndReturnsItsSlot() {
        AtomicInteger made = new AtomicInteger();
        AtomicInteger closed = new AtomicInteger();
        AtomicBoolean fail = new AtomicBoolean(true);
        BeforePad hook = (indices, out) -> {
            if (fail.get() && indices[1] == 5) {
                throw new InternalError("a fault occurred in an unsafe memory access operation");
            }
        };
        try (SampleStore s = eight(); BatchLoader l = small(s, "java", hook, made, closed)) {
            Iterator<Batch> it = l.epoch(0);
            it.next().close();
            it.next().close();
            LoaderException e = assertThrows(LoaderException.class, it::next);
            assertTrue(e.getMessage().startsWith("step 2, rank 0 of epoch 0, samples [4, 5]: "), e.getMessage());
            assertTrue(e.getMessage().contains("InternalError: a fault occurred"), e.getMessage());
            assertInstanceOf(InternalError.class, e.getCause());
            fail.set(false);
            holdEverySlot(l, 1, 4);   // the failed step's slot came back
        }
        assertEquals(made.get(), closed.get(), "every worker's collator is closed");
    }

    @Test
    void afterAWorkerFailureTheEpochIsOverAndNextRethrowsTheSameFailure() {
        try (SampleStore s = SampleStore.of(new long[][] {{1}, {2}, {3}, {4}, {5}, {300}, {7}, {8}})) {
            BatchPlan p = BatchPlan.builder().samples(8).batchSize(2).build();
            Padding int8 = Padding.builder().side(PadSide.POST).dtype(DType.INT8).build();
            for (String backend : new String[] {"java", "native"}) {
                try (BatchLoader l = BatchLoader.builder().store(s).plan(p).padding(int8).backend(backend).build()) {
                    Iterator<Batch> it = l.epoch(0);
                    it.next().close();
                    it.next().close();
                    LoaderException e = assertThrows(LoaderException.class, it::next);
                    assertTrue(e.getMessage().startsWith("step 2, rank 0 of epoch 0, samples [4, 5]"), e.getMessage());
                    assertFalse(it.hasNext(), backend + ": the epoch ends at its failure");
                    assertSame(e, assertThrows(LoaderException.class, it::next), backend);
                    assertSame(e, assertThrows(LoaderException.class, it::next), backend);
                    assertEquals(new LoaderState(0, p.consumedAfter(2), p.configHash()), l.state(),
                            backend + ": the checkpoint stays after the last batch delivered, so a resume retries the failed step");
                    // the loader itself stays usable: another epoch gets every slot back
                    Iterator<Batch> next = l.epoch(1);
                    assertTrue(next.hasNext());
                    assertEquals(0, next.next().step());
                }
            }
        }
    }

    static Path npy(Path dir, int samples, int length) throws IOException {
        int[] values = new int[samples * length];
        Arrays.setAll(values, i -> i % 1000);
        Path file = dir.resolve("tokens.npy");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment data = a.allocate(4L * values.length, 4);
            MemorySegment.copy(values, 0, data, ValueLayout.JAVA_INT, 0, values.length);
            NpyWriter.write(file, DType.INT32, new long[] {samples, length}, data);
        }
        return file;
    }

    static void truncate(Path file, long bytes) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(bytes);
        }
    }

    @Test
    void aFileThatShrinksBetweenBatchesIsAClearErrorNamingTheFile() throws IOException {
        // in this JVM with the java backend only: the native one is the forked test below (a crash there is a SIGBUS)
        for (String backend : new String[] {"java"}) {
            Path file = npy(dir, 16, 2048);   // 8 KiB per sample: truncation removes whole pages
            try (SampleStore s = Datasets.open(file);
                 BatchLoader l = BatchLoader.builder().store(s).plan(BatchPlan.builder().samples(16).batchSize(2).build())
                         .padding(int32()).backend(backend).prefetch(1).workers(1).build()) {
                Iterator<Batch> it = l.epoch(0);
                it.next().close();
                truncate(file, 128);
                LoaderException e = assertThrows(LoaderException.class, it::next);
                assertTrue(e.getMessage().startsWith("step 1, rank 0 of epoch 0, samples [2, 3]: "), e.getMessage());
                assertTrue(e.getMessage().contains(file + ": a file of 128 bytes, " + (128 + 16 * 2048 * 4)
                        + " when it was opened"), e.getMessage());
                assertInstanceOf(DatasetFormatException.class, assertInstanceOf(UncheckedIOException.class, e.getCause()).getCause());
                assertFalse(it.hasNext());
            }
        }
    }

    @Test
    void aFileThatShrinksDuringAJavaCopyIsALoaderExceptionNotAnInternalError() throws IOException {
        Path file = npy(dir, 16, 2048);
        AtomicInteger made = new AtomicInteger();
        AtomicInteger closed = new AtomicInteger();
        // the race the check before each batch cannot close: the file shrinks after it, while the batch is copied
        BeforePad shrink = (indices, out) -> {
            if (indices[0] == 4) {
                truncate(file, 128);
            }
        };
        try (SampleStore s = Datasets.open(file);
             BatchLoader l = BatchLoader.builder().store(s).plan(BatchPlan.builder().samples(16).batchSize(2).build())
                     .padding(int32()).backend("java").prefetch(2).workers(1).collators(() -> {
                         made.incrementAndGet();
                         return new HookedCollator(Backends.create("java"), shrink, closed);
                     }).build()) {
            Iterator<Batch> it = l.epoch(0);
            it.next().close();
            it.next().close();
            LoaderException e = assertThrows(LoaderException.class, it::next);
            assertTrue(e.getMessage().startsWith("step 2, rank 0 of epoch 0, samples [4, 5]: " + file
                    + ": a file of 128 bytes"), e.getMessage());
            assertInstanceOf(InternalError.class, e.getCause());
            assertFalse(it.hasNext());
        }
        assertEquals(made.get(), closed.get());
    }

    /**
     * The native backend reads the mapping in C, where a read past the end of a shrunk file is a SIGBUS that
     * kills the JVM: run in a forked JVM, so a crash fails this test instead of the whole suite.
     */
    @Test
    void aFileThatShrinksBetweenBatchesNeverReachesNativeCode() throws Exception {
        Path file = npy(dir, 16, 2048);
        ForkedJvm.Result r = ForkedJvm.run(ShrunkFileChild.class, 60, file.toString(), "native");
        assertEquals(0, r.exitCode(), "the forked JVM crashed or failed (exit " + r.exitCode() + "):\n" + r.output());
        assertTrue(r.output().contains("LoaderException: step 1, rank 0 of epoch 0, samples [2, 3]: " + file
                + ": a file of 128 bytes"), r.output());
    }

    /** The forked JVM's side: one batch, truncate, then the next batch must be a LoaderException. */
    public static final class ShrunkFileChild {
        public static void main(String[] args) throws IOException {
            Path file = Path.of(args[0]);
            try (SampleStore s = Datasets.open(file);
                 BatchLoader l = BatchLoader.builder().store(s).plan(BatchPlan.builder().samples(s.size()).batchSize(2).build())
                         .padding(int32()).backend(args[1]).prefetch(1).workers(1).build()) {
                Iterator<Batch> it = l.epoch(0);
                it.next().close();
                truncate(file, 128);
                try {
                    it.next().close();
                    System.out.println("no exception");
                    System.exit(3);
                } catch (LoaderException e) {
                    System.out.println("LoaderException: " + e.getMessage());
                }
            }
        }
    }

    static void sleepUninterruptibly(long millis) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        for (long left; (left = end - System.nanoTime()) > 0; ) {
            try {
                TimeUnit.NANOSECONDS.sleep(left);
            } catch (InterruptedException ignored) {
                // a batch that cannot be interrupted, like a long copy
            }
        }
    }

    /**
     * Takes two batches fast, makes the following ones slow (3 s each), holds one, and closes: close() must return
     * within a second whatever the batches in flight do.
     */
    static long closeWithSlowBatchesInFlight(String backend, BeforePad slowPad, AtomicInteger made, AtomicInteger closed,
                                             MemorySegment[] heldData) {
        AtomicBoolean slow = new AtomicBoolean();
        BeforePad hook = (indices, out) -> {
            if (slow.get()) {
                slowPad.run(indices, out);
            }
        };
        BatchLoader l = BatchLoader.builder().store(corpus).plan(BatchPlan.builder().samples(corpus.size()).batchSize(16).build()).padding(int32())
                .backend(backend).prefetch(4).workers(2).collators(() -> {
                    made.incrementAndGet();
                    return new HookedCollator(Backends.create(backend), hook, closed);
                }).build();
        Iterator<Batch> it = l.epoch(0);
        Batch first = it.next();          // steps 0-3 were submitted and prepared fast
        slow.set(true);
        first.close();
        it.next().close();                // step 1; step 4 submitted, slow
        Batch held = it.next();           // step 2; step 5 submitted, slow: both workers busy
        heldData[0] = held.padded().data();
        long t0 = System.nanoTime();
        l.close();
        long elapsed = System.nanoTime() - t0;
        l.close();
        assertThrows(IllegalStateException.class, it::hasNext);
        return elapsed;
    }

    static void awaitWorkersGone(AtomicInteger made, AtomicInteger closed) throws InterruptedException {
        for (int i = 0; i < 500 && (BatchLoaderTest.workerThreads() > 0 || closed.get() < made.get()); i++) {
            Thread.sleep(20);
        }
        assertEquals(0, BatchLoaderTest.workerThreads(), "loader worker threads still alive");
        assertEquals(made.get(), closed.get(), "every worker's collator is closed once its worker is done");
    }

    @Test
    void closeReturnsWithinASecondWhileJavaBatchesAreSlowAndFreesTheRing() throws InterruptedException {
        AtomicInteger made = new AtomicInteger();
        AtomicInteger closed = new AtomicInteger();
        MemorySegment[] held = new MemorySegment[1];
        long elapsed = closeWithSlowBatchesInFlight("java", (indices, out) -> sleepUninterruptibly(3000), made, closed, held);
        assertTrue(elapsed < TimeUnit.MILLISECONDS.toNanos(1500), "close() took " + elapsed / 1_000_000 + " ms");
        assertFalse(held[0].scope().isAlive(), "the ring is freed when close() returns");
        awaitWorkersGone(made, closed);
    }

    private static final MethodHandle NANOSLEEP = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("nanosleep").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));

    /** 2 s in native code with the batch's ring memory passed to it, as a long native pad holds it. */
    static void nativeSleepHoldingTheRing(PaddedBatch out) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment req = a.allocate(16, 8);
            req.set(ValueLayout.JAVA_LONG, 0, 2);
            req.set(ValueLayout.JAVA_LONG, 8, 0);
            int rc = (int) NANOSLEEP.invokeExact(req, out.data());   // rem: only written when a signal interrupts it
            assertEquals(0, rc);
        }
    }

    @Test
    void closeReturnsWithinASecondWhileNativeCodeHoldsTheRingAndFreesItAfterwards() throws InterruptedException {
        AtomicInteger made = new AtomicInteger();
        AtomicInteger closed = new AtomicInteger();
        MemorySegment[] held = new MemorySegment[1];
        long elapsed = closeWithSlowBatchesInFlight("native", (indices, out) -> {
            try {
                nativeSleepHoldingTheRing(out);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }, made, closed, held);
        assertTrue(elapsed < TimeUnit.MILLISECONDS.toNanos(1500), "close() took " + elapsed / 1_000_000 + " ms");
        awaitWorkersGone(made, closed);
        for (int i = 0; i < 250 && held[0].scope().isAlive(); i++) {
            Thread.sleep(20);
        }
        assertFalse(held[0].scope().isAlive(), "the ring is freed once the native calls that hold it return");
    }

}
