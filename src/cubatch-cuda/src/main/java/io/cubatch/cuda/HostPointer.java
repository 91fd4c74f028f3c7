package io.cubatch.cuda;

import java.lang.foreign.MemorySegment;
import jcuda.Pointer;

/**
 * A JCuda {@link Pointer} to native host memory at a raw address: a {@link MemorySegment} (pinned slot,
 * mapped store, caller output) handed to JCuda's cuMemcpy calls without a ByteBuffer (which stops at
 * 2 GiB). For code that drives JCuda itself around cubatch's batches.
 */
public final class HostPointer extends Pointer {
    private HostPointer(long address) {
        super(address);
    }

    /**
     * The host address.
     *
     * @return the address the pointer designates
     */
    public long address() {
        return getNativePointer() + getByteOffset();
    }

    /**
     * A pointer to {@code segment}'s first byte; the segment must be native (not on the Java heap).
     *
     * @param segment a native segment; it must stay alive while the pointer is used
     * @return the pointer
     * @throws IllegalArgumentException for a heap segment
     */
    public static HostPointer to(MemorySegment segment) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException("a heap segment cannot be copied to or from the device: use native"
                    + " or mapped memory (an Arena, or the store's mapped file)");
        }
        return new HostPointer(segment.address());
    }
}
