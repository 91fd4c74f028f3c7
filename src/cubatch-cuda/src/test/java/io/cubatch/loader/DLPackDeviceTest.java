package io.cubatch.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.cuda.CudaTensors;
import io.cubatch.cuda.GpuTestSupport;
import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.LastBatch;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Iterator;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Device batches as DLPack tensors ({@code kDLCUDA}, the GPU ordinal), checked field by field by the C
 * consumer, which calls the deleter on a native thread; the bytes at the exported device address equal the
 * java backend's host batch. Runs under the CUDA driver emulator in every build (1 and 2 devices) and on a GPU.
 */
@Tag("gpu")
@ExtendWith(GpuTestSupport.class)
class DLPackDeviceTest {
    private static final long DATA_AT = 32;   // dl_tensor.data in DLManagedTensorVersioned

    @Test
    void everyTensorOfADeviceBatchPassesTheCConsumer() {
        int before = DLPack.liveExports();
        BatchPlan plan = BatchPlan.builder().samples(5).batchSize(3).lastBatch(LastBatch.PARTIAL).build();
        int device = io.cubatch.cuda.Cuda.availability().devices().size() - 1;
        try (SampleStore store = SampleStore.of(DLPackTest.SEQUENCES);
             BatchLoader host = BatchLoader.builder().store(store).plan(plan).padding(DLPackTest.padding(true))
                     .backend("java").build();
             BatchLoader dev = BatchLoader.builder().store(store).plan(plan).padding(DLPackTest.padding(true))
                     .backend("cuda").device(device).prefetch(1).workers(1).build();
             Arena arena = Arena.ofConfined()) {
            Iterator<Batch> h = host.epoch(0);
            Iterator<Batch> d = dev.epoch(0);
            int steps = 0;
            while (h.hasNext()) {
                try (Batch hb = h.next(); Batch db = d.next()) {
                    assertTrue(db.onDevice());
                    CudaTensors t = CudaTensors.of(db.deviceTensors());
                    int rows = db.shape().batch();
                    long len = db.shape().length();
                    Object[][] cases = {
                        {Batch.Tensor.DATA, DLPack.KDL_INT, 64, new long[] {rows, len}, hb.padded().data()},
                        {Batch.Tensor.LENGTHS, DLPack.KDL_INT, 32, new long[] {rows}, hb.padded().lengths()},
                        {Batch.Tensor.ATTENTION_MASK, DLPack.KDL_UINT, 8, new long[] {rows, len}, hb.padded().attentionMask()},
                        {Batch.Tensor.POSITION_IDS, DLPack.KDL_INT, 32, new long[] {rows, len}, hb.padded().positions()}};
                    for (Object[] c : cases) {
                        MemorySegment m = db.toDLPack((Batch.Tensor) c[0]);
                        long address = m.get(ValueLayout.JAVA_LONG, DATA_AT);
                        MemorySegment want = (MemorySegment) c[4];
                        MemorySegment got = arena.allocate(want.byteSize());
                        t.copyToHost(address, got);
                        assertEquals(-1, want.mismatch(got), c[0] + " at the exported device address, step " + steps);
                        assertNull(DLPackConsumer.check(m, new DLPackConsumer.Expect(DLPack.KDL_CUDA, device, (int) c[1],
                                (int) c[2], 0, (long[]) c[3], null), true), c[0] + " step " + steps);
                    }
                }
                steps++;
            }
            assertEquals(2, steps);
        }
        assertEquals(before, DLPack.liveExports());
    }

    /**
     * Closing the loader while a device tensor is exported frees no device memory until its deleter runs: the
     * emulator would report the read of freed memory below, and its leak check that the deleter freed it all.
     */
    @Test
    void closingTheLoaderKeepsAnExportedDeviceTensorUntilItsDeleter() throws Exception {
        BatchPlan plan = BatchPlan.builder().samples(5).batchSize(3).lastBatch(LastBatch.PARTIAL).build();
        int device = io.cubatch.cuda.Cuda.availability().devices().size() - 1;
        try (SampleStore store = SampleStore.of(DLPackTest.SEQUENCES);
             BatchLoader host = BatchLoader.builder().store(store).plan(plan).padding(DLPackTest.padding(true))
                     .backend("java").build();
             Arena arena = Arena.ofConfined()) {
            MemorySegment want;
            try (Batch hb = host.epoch(0).next()) {
                want = arena.allocate(hb.padded().data().byteSize());
                want.copyFrom(hb.padded().data());
            }
            BatchLoader dev = BatchLoader.builder().store(store).plan(plan).padding(DLPackTest.padding(true))
                    .backend("cuda").device(device).prefetch(1).workers(1).build();
            MemorySegment m;
            CudaTensors t;
            try (Batch db = dev.epoch(0).next()) {
                t = CudaTensors.of(db.deviceTensors());
                m = db.toDLPack(Batch.Tensor.DATA);
            }
            dev.close();
            assertFalse(dev.awaitFreed(200), "device memory freed while the consumer holds a tensor");
            MemorySegment got = arena.allocate(want.byteSize());
            t.copyToHost(m.get(ValueLayout.JAVA_LONG, DATA_AT), got);
            assertEquals(-1, want.mismatch(got), "the exported device bytes after the loader's close");
            DLPackConsumer.delete(m);
            assertTrue(dev.awaitFreed(10_000), "the deleter frees the ring");
        }
    }
}
