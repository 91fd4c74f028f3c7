package io.cubatch.cuda;

import io.cubatch.cuda.internal.DevicePointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * One device allocation ({@code cuMemAlloc}), owned by exactly one object: this one. {@link #close()} frees
 * it (idempotent); closing its {@link CudaContext} first frees it too, and reports it as leaked.
 */
public final class DeviceMemory implements AutoCloseable {
    private final CudaContext context;
    private final DevicePointer pointer;
    private final long bytes;
    private boolean closed;

    DeviceMemory(CudaContext context, DevicePointer pointer, long bytes) {
        this.context = context;
        this.pointer = pointer;
        this.bytes = bytes;
    }

    /**
     * The device address, for kernel arguments and for other CUDA libraries (as a {@code long}).
     *
     * @return the address
     * @throws IllegalStateException when the memory is freed
     */
    public long address() {
        checkOpen();
        return pointer.address();
    }

    /**
     * The size asked for; the allocation itself holds at least one byte.
     *
     * @return the size in bytes, readable after close
     */
    public long bytes() {
        return bytes;
    }

    /**
     * The JCuda pointer at {@code offset} bytes, for cuMemcpy calls.
     *
     * @param offset the byte offset, in {@code [0, bytes()]}
     * @return the pointer; valid until this memory is closed
     * @throws IndexOutOfBoundsException when the offset is outside the allocation
     * @throws IllegalStateException when the memory is freed
     */
    public CUdeviceptr at(long offset) {
        checkOpen();
        if (offset < 0 || offset > bytes) {
            throw new IndexOutOfBoundsException("offset " + offset + " outside a device allocation of " + bytes + " bytes");
        }
        return offset == 0 ? pointer : pointer.withByteOffset(offset);
    }

    /**
     * Whether the memory has been freed.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return closed;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("device memory of " + bytes + " bytes is closed");
        }
    }

    @Override
    public void close() {
        synchronized (context) {
            if (closed) {
                return;
            }
            closed = true;
            context.forget(this);
            context.makeCurrent();
            CudaException.check(JCudaDriver.cuMemFree(pointer), "cuMemFree");
        }
    }

    /** Frees without the context's bookkeeping: the context is closing and frees everything itself. */
    void freeForContextClose() {
        if (!closed) {
            closed = true;
            JCudaDriver.cuMemFree(pointer);
        }
    }
}
