package io.cubatch.collate.internal;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * The java backend's helper thread for a large batch, one for the process (a daemon, started by the first batch
 * that needs it): it pads the upper rows while the calling thread pads the lower ones, as libcubatch's worker
 * pool does for the native backend. After a job it spins for {@link #SPIN_NANOS} before it parks, so a loader
 * padding batch after batch hands each one over without waking a parked thread (a futex round trip, which made
 * the common ForkJoinPool's split gain 1.5x where libcubatch's spinning pool gains 1.9x).
 *
 * <p>One job at a time. A caller that finds it taken (another collator's batch, on another thread), or for whom
 * the thread cannot be started, is refused by {@link #tryPost} and pads all its rows itself. A job never throws:
 * it keeps what its rows threw for the caller. Posting and waiting allocate nothing.
 */
final class RowWorker {
    /** The process's one worker. */
    static final RowWorker INSTANCE = new RowWorker();

    /** How long the worker spins for the next job before it parks, and the caller for the job's end. */
    static final long SPIN_NANOS = 100_000;

    /** What the worker runs: must not throw (a job keeps its own failure). */
    interface Job {
        void run();
    }

    private final AtomicBoolean taken = new AtomicBoolean();
    private volatile Thread thread;
    private volatile boolean unavailable;
    private volatile Job job;
    private volatile long posted;
    private volatile long done;
    private volatile boolean parked;
    private volatile Thread waiter;

    /** A worker of its own, for tests; the backend uses {@link #INSTANCE}. */
    RowWorker() {
    }

    /**
     * Posts {@code j} to the worker, which runs it at once; pair with {@link #await()} in a finally block.
     *
     * @param j the job, which must not throw
     * @return false, having posted nothing, when another caller's job holds the worker or the worker cannot
     *         be started: the caller then runs the job's rows itself
     */
    boolean tryPost(Job j) {
        if (unavailable || !taken.compareAndSet(false, true)) {
            return false;
        }
        Thread t = thread;
        if (t == null) {
            t = start();
            if (t == null) {
                taken.set(false);
                return false;
            }
        }
        job = j;
        posted = posted + 1;   // the volatile write that publishes the job's fields to the worker
        if (parked) {
            LockSupport.unpark(t);
        }
        return true;
    }

    /** Waits until the posted job has run (spinning, then parking), then frees the worker for the next caller. */
    void await() {
        long n = posted;
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (done != n) {
            if (System.nanoTime() - spinUntil < 0) {
                Thread.onSpinWait();
            } else {
                // Dekker with the worker's done-then-waiter: one of the two sees the other's write
                waiter = Thread.currentThread();
                if (done != n) {
                    LockSupport.parkNanos(this, SPIN_NANOS);
                }
            }
        }
        waiter = null;
        job = null;
        taken.set(false);
    }

    private Thread start() {
        synchronized (this) {
            if (thread != null) {
                return thread;
            }
            try {
                // the worker waits for the job after the last one posted: the caller posts right after this start,
                // and the new thread may first read posted before or after that
                long last = posted;
                Thread t = new Thread(() -> loop(last), "cubatch-java-rows");
                t.setDaemon(true);
                t.start();
                thread = t;
                return t;
            } catch (Throwable e) {   // no thread for us (OutOfMemoryError: unable to create native thread)
                unavailable = true;
                return null;
            }
        }
    }

    private void loop(long last) {
        long seen = last;
        for (;;) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (posted == seen) {
                if (System.nanoTime() - spinUntil < 0) {
                    Thread.onSpinWait();
                } else {
                    // Dekker with tryPost's posted-then-parked: one of the two sees the other's write
                    parked = true;
                    if (posted == seen) {
                        LockSupport.park(this);
                    }
                    parked = false;
                    spinUntil = System.nanoTime() + SPIN_NANOS;
                }
            }
            seen = posted;
            try {
                job.run();
            } catch (Throwable t) {
                // a job keeps its own failure, so nothing reaches here; were it to, the worker must live on, or
                // the next caller would wait for it forever
            }
            done = seen;
            Thread w = waiter;
            if (w != null) {
                LockSupport.unpark(w);
            }
        }
    }
}
