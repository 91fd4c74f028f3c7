package io.cubatch.cuda;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The accounting of a ring of K slots, apart from what the slots hold (pure Java, so it is tested without a
 * GPU): {@link #acquire} hands out a free slot, lowest-numbered first, blocking while all K are out;
 * {@link #release} takes one back, exactly once. After {@link #close()} no slot is handed out and waiting
 * threads are woken with an exception.
 */
public final class SlotPool {
    private final int size;
    private final boolean[] out;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition freed = lock.newCondition();
    private int inUse;
    private int maxInUse;
    private long acquired;
    private boolean closed;

    public SlotPool(int size) {
        if (size < 1) {
            throw new IllegalArgumentException("a ring needs at least 1 slot, got " + size
                    + " (2 or more let the next batch fill while the last is used)");
        }
        this.size = size;
        this.out = new boolean[size];
    }

    public int size() {
        return size;
    }

    /**
     * A free slot's number, waiting up to {@code timeout} for one.
     *
     * @throws IllegalStateException when all slots stay out for {@code timeout} (each batch holds its slot
     *                               until closed: close batches, or use more slots), or the pool is closed
     */
    public int acquire(Duration timeout) throws InterruptedException {
        long nanos = timeout.toNanos();
        lock.lockInterruptibly();
        try {
            while (!closed && inUse == size) {
                if (nanos <= 0) {
                    throw new IllegalStateException("all " + size + " ring slots are held by open batches after waiting "
                            + timeout.toMillis() + " ms: close each batch when done with it (try-with-resources), or"
                            + " give the collator more slots");
                }
                nanos = freed.awaitNanos(nanos);
            }
            if (closed) {
                throw new IllegalStateException("the ring is closed");
            }
            for (int i = 0; i < size; i++) {
                if (!out[i]) {
                    out[i] = true;
                    inUse++;
                    acquired++;
                    maxInUse = Math.max(maxInUse, inUse);
                    return i;
                }
            }
            throw new AssertionError("inUse < size but no free slot");
        } finally {
            lock.unlock();
        }
    }

    /** Returns slot {@code i}. @throws IllegalStateException when it is not out (a double release). */
    public void release(int i) {
        lock.lock();
        try {
            if (i < 0 || i >= size || !out[i]) {
                throw new IllegalStateException("slot " + i + " is not held (released twice?); ring of " + size);
            }
            out[i] = false;
            inUse--;
            freed.signal();
        } finally {
            lock.unlock();
        }
    }

    public int inUse() {
        lock.lock();
        try {
            return inUse;
        } finally {
            lock.unlock();
        }
    }

    /** The most slots out at once so far. */
    public int maxInUse() {
        lock.lock();
        try {
            return maxInUse;
        } finally {
            lock.unlock();
        }
    }

    /** Slots handed out so far. */
    public long acquired() {
        lock.lock();
        try {
            return acquired;
        } finally {
            lock.unlock();
        }
    }

    public void close() {
        lock.lock();
        try {
            closed = true;
            freed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    static Duration defaultTimeout() {
        return Duration.of(30, TimeUnit.SECONDS.toChronoUnit());
    }
}
