package io.cubatch.collate;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * The guard of an object that one thread at a time may use (a collator, with its scratch buffers): a second
 * thread that calls in while another is inside gets an {@link IllegalStateException} naming that thread,
 * instead of sharing the scratch (an index buffer overwritten between its check and the native read was
 * a SIGSEGV). {@link #close} waits for the thread inside, if any, to leave, then frees: a close racing a
 * running operation neither fails nor leaks. Handing the object from one thread to another between calls
 * is fine. Uncontended, {@link #enter} costs one compare-and-set and {@link #exit} one release store.
 *
 * <pre>{@code
 * user.enter();
 * try { ... } finally { user.exit(); }
 * }</pre>
 */
public final class SingleUser {
    private static final VarHandle OWNER;

    static {
        try {
            OWNER = MethodHandles.lookup().findVarHandle(SingleUser.class, "owner", Thread.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final String what;
    /** The thread inside, or null: set by a compare-and-set, cleared by a release store. */
    @SuppressWarnings("unused")   // through OWNER
    private volatile Thread owner;
    /** How many times the owner re-entered (a call from inside a call), touched by the owner alone. */
    private int depth;
    private volatile boolean closing;
    private volatile boolean closed;
    /** The thread waiting in {@link #close}, for exit to wake. */
    private volatile Thread closer;

    /**
     * A guard, open and unused.
     *
     * @param what the guarded object, for messages: "native collator"
     */
    public SingleUser(String what) {
        this.what = what;
    }

    /**
     * Enters; pair with {@link #exit()} in a finally block. The thread inside may enter again (each enter then
     * needs its exit).
     *
     * @throws IllegalStateException when another thread is inside, when a close has begun, or when closed
     */
    public void enter() {
        Thread me = Thread.currentThread();
        while (!OWNER.compareAndSet(this, (Thread) null, me)) {
            Thread t = (Thread) OWNER.getVolatile(this);
            if (t == null) {
                // the other thread left between the failed exchange and this read: no conflict, try again
                // (refusing here failed a call that overlapped nothing, naming "another thread")
                continue;
            }
            if (t == me) {
                if (closed) {   // a call from inside close's free: the object is being freed
                    throw new IllegalStateException(what + " is closed");
                }
                depth++;
                return;
            }
            String who = "thread '" + t.getName() + "'";
            throw new IllegalStateException(what + (closing ? " is being closed by " + who : " is in use by " + who)
                    + ": it is not thread-safe, so use one per thread (a new one from Backends.create for each),"
                    + " or hand it over only between calls");
        }
        if (closed || closing) {   // once a close has begun, no new call: it would starve the closer
            OWNER.setRelease(this, (Thread) null);
            wakeCloser();
            throw new IllegalStateException(what + (closed ? " is closed" : " is being closed"));
        }
    }

    /**
     * Leaves what {@link #enter()} entered.
     *
     * @throws IllegalMonitorStateException when the calling thread is not the one inside (an exit without its
     *     enter, or from another thread), which would otherwise let a close free memory the caller still uses
     */
    public void exit() {
        if (OWNER.get(this) != Thread.currentThread()) {
            throw new IllegalMonitorStateException(what + ": exit by thread '" + Thread.currentThread().getName()
                    + "', which is not inside");
        }
        if (depth > 0) {
            depth--;
        } else {
            OWNER.setRelease(this, (Thread) null);   // orders the call's writes before the next user's enter
            if (closing) {
                wakeCloser();
            }
        }
    }

    private void wakeCloser() {
        Thread c = closer;
        if (c != null) {
            LockSupport.unpark(c);
        }
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
     * {@code free}. Idempotent; a second close returns at once. The thread inside may not close (from within
     * one of the object's own calls), since the call would go on using what {@code free} frees.
     *
     * @param free frees the object's memory; run once, by the closing thread, with no other thread inside
     * @throws IllegalStateException when called by the thread inside, from within a call
     */
    public void close(Runnable free) {
        if (closed) {
            return;
        }
        Thread me = Thread.currentThread();
        if (OWNER.getVolatile(this) == me) {
            throw new IllegalStateException(what + " cannot be closed from within one of its own calls");
        }
        closer = me;
        closing = true;   // after closer: exit reads closing, then closer, to wake it
        boolean interrupted = false;
        while (!OWNER.compareAndSet(this, (Thread) null, me)) {   // wait for the thread inside to leave
            LockSupport.parkNanos(this, 1_000_000);   // exit unparks it; the timeout is a backstop
            interrupted |= Thread.interrupted();   // an interrupted park returns at once: do not spin on it
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        try {
            if (closed) {
                return;
            }
            closed = true;
            free.run();
        } finally {
            closer = null;
            OWNER.setRelease(this, (Thread) null);
        }
    }
}
