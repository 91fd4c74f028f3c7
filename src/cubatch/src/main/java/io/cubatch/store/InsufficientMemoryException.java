package io.cubatch.store;

/**
 * An allocation was refused before it was tried: it needs more native memory than this machine has
 * available ({@link NativeMemory}). The message names what needed it, the bytes needed, the bytes
 * available and the fix; the CLI prints it and exits with status 2.
 */
public class InsufficientMemoryException extends IllegalArgumentException {
    private final long needed;
    private final long available;

    public InsufficientMemoryException(String message, long needed, long available) {
        super(message);
        this.needed = needed;
        this.available = available;
    }

    /** Bytes the allocation needs. */
    public long needed() {
        return needed;
    }

    /** Bytes that were available when it was checked. */
    public long available() {
        return available;
    }
}
