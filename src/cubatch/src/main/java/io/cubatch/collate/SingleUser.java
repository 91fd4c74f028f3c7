package io.cubatch.collate;

import java.util.concurrent.locks.ReentrantLock;

/**
 * The guard of an object that one thread at a time may use (a collator, with its scratch buffers): a second
 * thread that calls in while another is inside gets an {@link IllegalStateException} naming that thread,
 * instead of sharing the scratch (an index buffer overwritten between its check and the native read was
 * a SIGSEGV). {@link #close} waits for the thread inside, if any, to leave, then frees: a close racing a
 * running operation neither fails nor leaks. Handing the object from one thread to another between calls
 * is fine. Uncontended, {@link #enter} and {@link #exit} cost one compare-and-set each.
 *
 * <pre>{@code
 * user.enter();
 * try { ... } finally { user.exit(); }
 * }</pre>
 */
public final class SingleUser {
    private final String what;
    private final OwnedLock lock = new OwnedLock();
    private volatile boolean closing;
    private volatile boolean closed;

    /**
     * A guard, open and unused.
     *
     * @param what the guarded object, for messages: "native collator"
     */
    public SingleUser(String what) {
        this.what = what;
    }

    /**
     * Enters; pair with {@link #exit()} in a finally block.
     *
     * @throws IllegalStateException when another thread is inside or closing, or when closed
     */
    public void enter() {
        if (!lock.tryLock()) {
            Thread t = lock.owner();
            for (int spin = 0; t == null && spin < 1000 && lock.isLocked(); spin++) {
                Thread.onSpinWait(); // the lock is taken an instant before its owner is recorded
                t = lock.owner();
            }
            String who = t == null ? "another thread" : "thread '" + t.getName() + "'";
            throw new IllegalStateException(what + (closing ? " is being closed by " + who : " is in use by " + who)
                    + ": it is not thread-safe, so use one per thread (a new one from Backends.create for each),"
                    + " or hand it over only between calls");
        }
        if (closed) {
            lock.unlock();
            throw new IllegalStateException(what + " is closed");
        }
    }

    /** Leaves what {@link #enter()} entered. */
    public void exit() {
        lock.unlock();
    }

    /**
     * Whether {@link #close(Runnable)} has run.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Closes once: waits until no thread is inside, marks the object closed (later calls throw), then runs
     * {@code free}. Idempotent; a second close returns at once.
     *
     * @param free frees the object's memory; run once, by the closing thread, with no other thread inside
     */
    public void close(Runnable free) {
        if (closed) {
            return;
        }
        closing = true;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            free.run();
        } finally {
            lock.unlock();
        }
    }

    /** A lock that names its owner, for the message. */
    private static final class OwnedLock extends ReentrantLock {
        Thread owner() {
            return getOwner();
        }
    }
}
