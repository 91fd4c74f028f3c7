package io.cubatch.collate.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.SingleUser;
import io.cubatch.collate.Collation;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.Padding;
import io.cubatch.store.DType;
import io.cubatch.store.Datasets;
import io.cubatch.store.SampleStore;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A close that races a running pad (issue 14, item 7): the collator's close and the store's close wait for
 * the native call that holds their memory, then free it; neither throws "Session is acquired by N
 * clients" and leaves its memory allocated for good. And a second thread inside a collator is refused
 * (item 1; the crash itself is SharedCollatorForkedTest's).
 */
class CloseDuringUseTest {
    private static final NativeLibrary LIB = NativeLibrary.get().orElseThrow(() ->
            new AssertionError("libcubatch must load where the build packaged it: " + NativeLibrary.unavailableReason()));

    private static final Padding POST = Padding.builder().side(PadSide.POST).dtype(DType.INT32).positions(true).build();

    /** One thread inside; a second is refused naming the first; close waits for it, then frees, once. */
    @Test
    void aSecondThreadIsRefusedAndCloseWaitsForTheFirst() throws InterruptedException {
        SingleUser user = new SingleUser("thing");
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread holder = new Thread(() -> {
            user.enter();
            try {
                inside.countDown();
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                user.exit();
            }
        }, "holder");
        holder.start();
        inside.await();
        IllegalStateException e = assertThrows(IllegalStateException.class, user::enter);
        assertTrue(e.getMessage().startsWith("thing is in use by thread 'holder': it is not thread-safe"), e.getMessage());
        AtomicBoolean freed = new AtomicBoolean();
        Thread closer = new Thread(() -> user.close(() -> freed.set(true)), "closer");
        closer.start();
        closer.join(200);
        assertTrue(closer.isAlive(), "close waits while a thread is inside");
        assertFalse(freed.get());
        release.countDown();
        closer.join();
        holder.join();
        assertTrue(freed.get());
        assertTrue(user.isClosed());
        assertEquals("thing is closed", assertThrows(IllegalStateException.class, user::enter).getMessage());
        user.close(() -> {
            throw new AssertionError("freed twice");
        });
    }

    /**
     * The thread inside may enter again (a call from inside a call), and another thread is refused until every
     * enter has had its exit; closing from inside a call is refused, since the call would use freed memory.
     */
    @Test
    void theThreadInsideMayReenterButNotClose() throws InterruptedException {
        SingleUser user = new SingleUser("thing");
        user.enter();
        user.enter();
        user.exit();
        Throwable t = onAnotherThread(() -> {
            user.enter();
            user.exit();
        });
        assertTrue(t instanceof IllegalStateException, "another thread entered while one enter had no exit yet: " + t);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> user.close(() -> { }));
        assertEquals("thing cannot be closed from within one of its own calls", e.getMessage());
        assertFalse(user.isClosed());
        user.exit();
        t = onAnotherThread(() -> {
            user.enter();
            user.exit();
        });
        assertNull(t, "another thread may enter once the first has left");
        AtomicBoolean freed = new AtomicBoolean();
        user.close(() -> freed.set(true));
        assertTrue(freed.get());
    }

    /**
     * An exit by a thread that is not inside is refused (it would let a close free what the thread inside still
     * uses), and the object's own free cannot call back into it.
     */
    @Test
    void anExitFromOutsideIsRefusedAndFreeCannotReenter() throws InterruptedException {
        SingleUser user = new SingleUser("thing");
        user.enter();
        Throwable t = onAnotherThread(user::exit);
        assertTrue(t instanceof IllegalMonitorStateException, "exit from outside: " + t);
        t = onAnotherThread(() -> {
            user.enter();
            user.exit();
        });
        assertTrue(t instanceof IllegalStateException, "the first thread is still inside: " + t);
        user.exit();
        assertThrows(IllegalMonitorStateException.class, user::exit, "an exit without its enter");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> user.close(user::enter));
        assertEquals("thing is closed", e.getMessage());
        assertTrue(user.isClosed());
    }

    /** Runs {@code r} on a thread of its own, named "other", to its end; what it threw, or null. */
    private static Throwable onAnotherThread(Runnable r) throws InterruptedException {
        Throwable[] thrown = new Throwable[1];
        Thread other = new Thread(() -> {
            try {
                r.run();
            } catch (Throwable e) {
                thrown[0] = e;
            }
        }, "other");
        other.start();
        other.join();
        return thrown[0];
    }

    /** A store of {@code rows} samples of {@code length} int32 timesteps, sample b holding b everywhere. */
    private static SampleStore bigStore(int rows, int length) {
        Arena arena = Arena.ofShared();
        MemorySegment values = arena.allocate(4L * rows * length, 16);
        MemorySegment offsets = arena.allocate(8L * (rows + 1), 8);
        for (int b = 0; b < rows; b++) {
            values.asSlice(4L * b * length, 4L * length).fill((byte) b);
            offsets.setAtIndex(ValueLayout.JAVA_LONG, b, (long) b * length);
        }
        offsets.setAtIndex(ValueLayout.JAVA_LONG, rows, (long) rows * length);
        return SampleStore.adoptRagged(DType.INT32, new long[0], values, offsets, "test rows", arena);
    }

    /**
     * Closes the collator (or the store) while a pad of 64 MiB runs on another thread: close waits for it and
     * frees; the pad completes with the right bytes (or, when close came first, is refused as closed).
     */
    @Test
    void closeDuringANativePadWaitsForItThenFrees() throws Exception {
        for (boolean closeStore : new boolean[] {false, true}) {
            try (Arena out = Arena.ofShared()) {
                int rows = 16;
                int length = 1 << 20;
                SampleStore store = bigStore(rows, length);
                MemorySegment values = store.values();
                NativeCollator c = new NativeCollator(LIB);
                long[] indices = java.util.stream.LongStream.range(0, rows).map(i -> rows - 1 - i).toArray();
                PaddedBatch batch = PaddedBatch.allocate(Collation.shape(store, indices, POST), out);
                CountDownLatch started = new CountDownLatch(1);
                AtomicReference<Throwable> padFailure = new AtomicReference<>();
                Thread padder = new Thread(() -> {
                    started.countDown();
                    try {
                        c.pad(store, indices, POST, batch);
                    } catch (Throwable t) {
                        padFailure.set(t);
                    }
                }, "padder");
                padder.start();
                started.await();
                Thread.sleep(2); // the pad is validating its 16 rows or already copying 64 MiB
                if (closeStore) {
                    store.close();
                    assertFalse(values.scope().isAlive(), "the store's memory is freed when close returns");
                    c.close();
                } else {
                    c.close();
                    assertFalse(c.scratchAlive(), "the collator's memory is freed when close returns");
                    store.close();
                }
                padder.join();
                assertFalse(c.scratchAlive());
                assertFalse(values.scope().isAlive());
                Throwable t = padFailure.get();
                if (t == null) {
                    byte first = batch.data().get(ValueLayout.JAVA_BYTE, 0);
                    byte last = batch.data().get(ValueLayout.JAVA_BYTE, batch.data().byteSize() - 1);
                    assertEquals(rows - 1, first);
                    assertEquals(0, last);
                } else {
                    assertTrue(t instanceof IllegalStateException && t.getMessage().contains("closed"), t.toString());
                }
            }
        }
    }

    /**
     * 10,000 cycles of open, pad on another thread, and close of the collator and the store racing that pad:
     * every pad completes or is refused as closed, and nothing stays allocated or mapped.
     */
    @Test
    void tenThousandOpenCloseCyclesRacingAPadLeakNothing() throws IOException, InterruptedException {
        Path npy = fixture("arange_int32.npy");
        long before = mappingsOf(npy);
        ExecutorService padder = Executors.newSingleThreadExecutor(r -> new Thread(r, "padder"));
        long[] indices = {3, 0, 2, 1, 3, 3, 0, 1};
        int completed = 0;
        int refused = 0;
        try (Arena arena = Arena.ofShared()) {
            PaddedBatch out;
            try (SampleStore s = Datasets.open(npy)) {
                out = PaddedBatch.allocate(Collation.shape(s, indices, POST), arena);
            }
            PaddedBatch shared = out;
            for (int i = 0; i < 10_000; i++) {
                SampleStore s = i % 2 == 0 ? Datasets.open(npy)
                        : SampleStore.of(new int[][] {{0, 1, 2, 3, 4, 5}, {6, 7, 8, 9, 10, 11}, {12, 13, 14, 15, 16, 17},
                            {18, 19, 20, 21, 22, 23}});
                MemorySegment values = s.values();
                NativeCollator c = new NativeCollator(LIB);
                Future<?> pad = padder.submit(() -> c.pad(s, indices, POST, shared));
                if (i % 4 < 2) {
                    c.close();
                    s.close();
                } else {
                    s.close();
                    c.close();
                }
                try {
                    pad.get();
                    completed++;
                    assertEquals(18, shared.data().getAtIndex(ValueLayout.JAVA_INT, 0));
                } catch (ExecutionException e) {
                    Throwable t = e.getCause();
                    assertTrue(t instanceof IllegalStateException && t.getMessage().contains("closed"), t.toString());
                    refused++;
                }
                assertFalse(values.scope().isAlive(), "cycle " + i + ": the store's memory stayed allocated");
                assertFalse(c.scratchAlive(), "cycle " + i + ": the collator's scratch stayed allocated");
            }
        } finally {
            padder.shutdownNow();
        }
        assertEquals(10_000, completed + refused);
        assertEquals(before, mappingsOf(npy), "mappings of the dataset left in /proc/self/maps");
    }

    private static Path fixture(String name) {
        try {
            return Path.of(CloseDuringUseTest.class.getResource("/fixtures/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Lines of /proc/self/maps naming the file; -1 where there is no /proc (not Linux). */
    private static long mappingsOf(Path file) throws IOException {
        Path maps = Path.of("/proc/self/maps");
        if (!Files.isReadable(maps)) {
            return -1;
        }
        return Files.readAllLines(maps).stream().filter(l -> l.endsWith(file.toAbsolutePath().toString())).count();
    }

    /** The guard covers every collator of the host backends: java too refuses a second thread. */
    @Test
    void everyHostCollatorRefusesASecondThread() throws Exception {
        for (Collator c : new Collator[] {new NativeCollator(LIB), new JavaCollator()}) {
            SampleStore store = bigStore(16, 1 << 19);
            Padding plain = Padding.builder().side(PadSide.PRE).dtype(DType.INT32).build();
            try (Arena out = Arena.ofShared(); c) {
                long[] indices = java.util.stream.LongStream.range(0, 16).toArray();
                PaddedBatch[] batches = {PaddedBatch.allocate(Collation.shape(store, indices, plain), out),
                    PaddedBatch.allocate(Collation.shape(store, indices, plain), out)};
                int refusedSeen = 0;
                for (int attempt = 0; attempt < 50 && refusedSeen == 0; attempt++) {
                    CountDownLatch go = new CountDownLatch(1);
                    AtomicReference<Throwable> other = new AtomicReference<>();
                    Thread t = new Thread(() -> {
                        go.countDown();
                        try {
                            c.pad(store, indices, plain, batches[1]);
                        } catch (Throwable e) {
                            other.set(e);
                        }
                    }, "other-padder");
                    t.start();
                    go.await();
                    try {
                        c.pad(store, indices, plain, batches[0]);
                    } catch (IllegalStateException e) {
                        assertTrue(e.getMessage().contains("is in use by thread 'other-padder'"), e.getMessage());
                        refusedSeen++;
                    }
                    t.join();
                    if (other.get() != null) {
                        assertTrue(other.get() instanceof IllegalStateException
                                && other.get().getMessage().contains("is in use by thread"), other.get().toString());
                        refusedSeen++;
                    }
                }
                assertTrue(refusedSeen > 0, c.name() + ": two threads padding 32 MiB each never overlapped in 50 tries");
            } finally {
                store.close();
            }
        }
    }
}
