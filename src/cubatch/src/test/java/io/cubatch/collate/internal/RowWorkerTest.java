package io.cubatch.collate.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The java backend's row worker: it runs every posted job once, one at a time, and refuses a second caller. Each
 * test runs on a daemon thread with a deadline: a job that never runs leaves await() waiting, and the test must
 * then fail, not hang the build.
 */
class RowWorkerTest {
    interface Body {
        void run() throws Exception;
    }

    private static void bounded(String what, Body body) throws InterruptedException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                body.run();
            } catch (Throwable e) {
                failure.set(e);
            }
        }, what);
        t.setDaemon(true);
        t.start();
        t.join(60_000);
        if (t.isAlive()) {
            fail(what + ": still waiting after 60 s (a posted job that never ran?)");
        }
        if (failure.get() instanceof AssertionError e) {
            throw e;
        } else if (failure.get() != null) {
            throw new AssertionError(what + " failed", failure.get());
        }
    }

    /**
     * A job posted right after the worker's thread starts runs: the new thread must not take that job's number
     * for the one it has already seen (it did, and the first large batch of a process waited forever).
     */
    @Test
    void theFirstJobOfANewWorkerRuns() throws InterruptedException {
        bounded("first jobs", () -> {
            for (int i = 0; i < 40; i++) {
                RowWorker w = new RowWorker();
                AtomicInteger runs = new AtomicInteger();
                assertTrue(w.tryPost(runs::incrementAndGet));
                w.await();
                assertEquals(1, runs.get(), "worker " + i);
            }
        });
    }

    /** Jobs back to back, some after the worker has parked: each runs once, on the worker, before await returns. */
    @Test
    void everyJobRunsOnceOnTheWorkerBeforeAwaitReturns() throws InterruptedException {
        bounded("back to back", () -> {
            RowWorker w = new RowWorker();
            AtomicReference<Thread> ranOn = new AtomicReference<>();
            int[] counter = {0};   // plain: await's ordering must publish the worker's write
            for (int i = 0; i < 2000; i++) {
                assertTrue(w.tryPost(() -> {
                    counter[0]++;
                    ranOn.set(Thread.currentThread());
                }));
                w.await();
                assertEquals(i + 1, counter[0]);
                assertFalse(ranOn.get() == Thread.currentThread(), "the job ran on the caller's thread");
                if (i % 500 == 499) {
                    Thread.sleep(2);   // past the worker's spin: the next post must wake it from park
                }
            }
        });
    }

    /** While one caller's job runs, a second caller is refused (and pads inline); after await it may post. */
    @Test
    void aSecondCallerIsRefusedWhileAJobHoldsTheWorker() throws InterruptedException {
        bounded("second caller", () -> {
            RowWorker w = new RowWorker();
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            assertTrue(w.tryPost(() -> {
                started.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            assertTrue(started.await(30, TimeUnit.SECONDS), "the posted job did not start");
            boolean[] second = new boolean[1];
            Thread other = new Thread(() -> second[0] = w.tryPost(() -> { }));
            other.start();
            other.join();
            assertFalse(second[0], "a second job was accepted while the first held the worker");
            release.countDown();
            w.await();
            AtomicInteger runs = new AtomicInteger();
            assertTrue(w.tryPost(runs::incrementAndGet));
            w.await();
            assertEquals(1, runs.get());
        });
    }
}
