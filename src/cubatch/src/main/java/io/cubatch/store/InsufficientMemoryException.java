package io.cubatch.store;

/**
 * An allocation was refused before it was tried: it needs more native memory than this machine has
 * available ({@link NativeMemory}). The message names what needed it, the bytes needed, the bytes
 * available and the fix; the CLI prints it and exits with status 2.
 */
public class InsufficientMemoryException extends IllegalArgumentException {
    /** Bytes the allocation needs. */
    private final long needed;
    /** Bytes available when it was checked. */
    private final long available;

    /**
     * A refused allocation.
     *
     * @param message what needed the memory, the bytes needed and available, and the fix
     * @param needed the bytes the allocation needs
     * @param available the bytes available when it was checked
     */
    public InsufficientMemoryException(String message, long needed, long available) {
        super(message);
        this.needed = needed;
        this.available = available;
    }

    /**
     * Bytes the allocation needs.
     *
     * @return the bytes needed
     */
    public long needed() {
        return needed;
    }

    /**
     * Bytes that were available when it was checked.
     *
     * @return the bytes available
     */
    public long available() {
        return available;
    }
}
