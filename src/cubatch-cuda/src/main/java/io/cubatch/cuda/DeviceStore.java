package io.cubatch.cuda;

import io.cubatch.collate.ResidentStore;
import io.cubatch.store.SampleStore;
import java.lang.foreign.MemorySegment;
import jcuda.driver.JCudaDriver;

/**
 * A dataset uploaded once to one GPU (device-resident mode): its values and, when ragged, its offsets.
 * Batches from it send only their sample indices over PCIe ({@code 8 B} bytes) and the pad kernel gathers
 * on the device. The host store stays the source of lengths for shapes, validation and error messages, and
 * must stay open while this is used. Made by {@link CudaCollator#upload}; owns its device memory.
 */
public final class DeviceStore implements ResidentStore {
    private final SampleStore host;
    private final DeviceMemory values;
    private final DeviceMemory offsets;
    private final int device;

    private DeviceStore(SampleStore host, DeviceMemory values, DeviceMemory offsets, int device) {
        this.host = host;
        this.values = values;
        this.offsets = offsets;
        this.device = device;
    }

    /**
     * Device bytes the store needs: values plus, when ragged, int64 offsets.
     *
     * @param store the host store
     * @return {@code values().byteSize()} plus the offsets' bytes
     * @throws IllegalStateException when the store is closed
     */
    public static long bytesNeeded(SampleStore store) {
        return store.values().byteSize() + store.offsets().map(MemorySegment::byteSize).orElse(0L);
    }

    /**
     * Checks the budget the user set for device-resident data.
     *
     * @param store the host store
     * @param budgetBytes the most device bytes allowed, at least 0
     * @throws IllegalArgumentException naming both sizes when the store does not fit the budget, or when the
     *                                  budget is negative
     */
    public static void checkBudget(SampleStore store, long budgetBytes) {
        long need = bytesNeeded(store);
        if (budgetBytes < 0) {
            throw new IllegalArgumentException("device-resident budget " + budgetBytes + " bytes is negative");
        }
        if (need > budgetBytes) {
            throw new IllegalArgumentException("dataset " + store.source() + " needs " + need + " bytes on the device,"
                    + " over the device-resident budget of " + budgetBytes + " bytes: raise the budget, or keep the"
                    + " dataset on the host (batches then send only their real tokens)");
        }
    }

    static DeviceStore upload(CudaContext context, SampleStore store, long budgetBytes) {
        if (!store.isContiguous()) {
            throw new IllegalArgumentException("dataset " + store.source() + " is chunked (" + store.chunks()
                    + " record batches served in place); device-resident mode needs one contiguous buffer: keep it on"
                    + " the host (drop --resident), or convert it once (cubatch convert --input ... --output X.npy)");
        }
        checkBudget(store, budgetBytes);
        long need = bytesNeeded(store);
        long free = context.memoryInfo()[0];
        if (need > free) {
            throw new IllegalArgumentException("dataset " + store.source() + " needs " + need + " bytes on the device,"
                    + " but device " + context.ordinal() + " has " + free + " bytes free: keep the dataset on the host"
                    + " (drop --resident; batches then send only their real tokens)");
        }
        for (MemorySegment s : new MemorySegment[] {store.values(), store.offsets().orElse(MemorySegment.NULL)}) {
            if (!s.isNative()) {
                throw new IllegalArgumentException("dataset " + store.source() + " is on the Java heap; upload needs"
                        + " native or mapped memory");
            }
        }
        DeviceMemory v = context.allocate(store.values().byteSize());
        DeviceMemory o = null;
        try {
            copy(context, v, store.values());
            if (store.isRagged()) {
                o = context.allocate(store.offsets().get().byteSize());
                copy(context, o, store.offsets().get());
            }
            // a synchronous copy from pageable memory returns before its DMA has landed, and the collators'
            // kernels run on non-blocking streams, which do not wait for the legacy stream: wait here
            context.synchronize();
            return new DeviceStore(store, v, o, context.ordinal());
        } catch (RuntimeException e) {
            for (DeviceMemory m : new DeviceMemory[] {o, v}) {
                try {
                    if (m != null) {
                        m.close();
                    }
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private static void copy(CudaContext context, DeviceMemory to, MemorySegment from) {
        if (from.byteSize() > 0) {
            context.makeCurrent();
            CudaException.check(JCudaDriver.cuMemcpyHtoD(to.at(0), HostPointer.to(from), from.byteSize()),
                    "cuMemcpyHtoD");
        }
    }

    /** The host store this was uploaded from. */
    @Override
    public SampleStore host() {
        return host;
    }

    @Override
    public int device() {
        return device;
    }

    long valuesAddress() {
        return values.address();
    }

    /** 0 for a fixed-shape store. */
    long offsetsAddress() {
        return offsets == null ? 0 : offsets.address();
    }

    /** Device bytes held. */
    @Override
    public long bytes() {
        return values.bytes() + (offsets == null ? 0 : offsets.bytes());
    }

    @Override
    public void close() {
        try {
            values.close();
        } finally {
            if (offsets != null) {
                offsets.close();
            }
        }
    }
}
