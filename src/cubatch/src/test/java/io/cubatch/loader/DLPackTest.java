package io.cubatch.loader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.PadSide;
import io.cubatch.collate.Padding;
import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.LastBatch;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Iterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Host batches as DLPack tensors, checked field by field and byte by byte by a consumer written in C
 * ({@link DLPackConsumer}), which then calls the deleter, on its own thread or on a new native one; the slot
 * comes back to the loader only when the batch is closed and every export deleted.
 */
class DLPackTest {
    static final int[][] SEQUENCES = {{1, 2, 3}, {4}, {}, {5, 6, 7, 8, 9}, {10, 11}};

    static Padding padding(boolean positions) {
        return Padding.builder().side(PadSide.POST).value(-1).dtype(DType.INT64).positions(positions).build();
    }

    @Test
    void theJavaLayoutsAreTheCompilersLayoutOfTheAbi() {
        long[] c = DLPackConsumer.layout();
        var m = DLPack.MANAGED_TENSOR_VERSIONED;
        var t = DLPack.TENSOR;
        assertArrayEquals(new long[] {m.byteSize(), m.byteOffset(PathElement.groupElement("manager_ctx")),
            m.byteOffset(PathElement.groupElement("deleter")), m.byteOffset(PathElement.groupElement("flags")),
            m.byteOffset(PathElement.groupElement("dl_tensor")), t.byteSize(), t.byteOffset(PathElement.groupElement("device")),
            t.byteOffset(PathElement.groupElement("ndim")), t.byteOffset(PathElement.groupElement("dtype")),
            t.byteOffset(PathElement.groupElement("shape")), t.byteOffset(PathElement.groupElement("strides")),
            t.byteOffset(PathElement.groupElement("byte_offset"))}, c);
        assertEquals(80, c[0]);
    }

    @ParameterizedTest
    @ValueSource(strings = {"java", "native"})
    void everyTensorOfAHostBatchPassesTheCConsumer(String backend) throws Exception {
        int before = DLPack.liveExports();
        try (SampleStore store = SampleStore.of(SEQUENCES);
             BatchLoader l = BatchLoader.builder().store(store).padding(padding(true)).backend(backend).prefetch(1)
                     .workers(1).plan(BatchPlan.builder().samples(5).batchSize(3).lastBatch(LastBatch.PARTIAL).build())
                     .build()) {
            Iterator<Batch> it = l.epoch(0);
            int step = 0;
            while (it.hasNext()) {
                Batch b = it.next();
                int rows = b.shape().batch();
                long len = b.shape().length();
                MemorySegment data = b.toDLPack(Batch.Tensor.DATA);
                MemorySegment lengths = b.toDLPack(Batch.Tensor.LENGTHS);
                MemorySegment mask = b.toDLPack(Batch.Tensor.ATTENTION_MASK);
                MemorySegment positions = b.toDLPack(Batch.Tensor.POSITION_IDS);
                assertThrows(IllegalStateException.class, () -> b.toDLPack(Batch.Tensor.CU_SEQLENS));
                var p = b.padded();
                String where = backend + " step " + step;
                assertNull(DLPackConsumer.check(data, new DLPackConsumer.Expect(DLPack.KDL_CPU, 0,
                        DLPack.KDL_INT, 64, 0, new long[] {rows, len}, p.data()), false), where);
                assertNull(DLPackConsumer.check(lengths, new DLPackConsumer.Expect(DLPack.KDL_CPU, 0,
                        DLPack.KDL_INT, 32, 0, new long[] {rows}, p.lengths()), true), where);
                assertNull(DLPackConsumer.check(mask, new DLPackConsumer.Expect(DLPack.KDL_CPU, 0,
                        DLPack.KDL_UINT, 8, 0, new long[] {rows, len}, p.attentionMask()), false), where);
                // the batch closed before the last export is deleted: its slot waits for the deleter
                b.close();
                assertThrows(IllegalStateException.class, () -> b.toDLPack(Batch.Tensor.DATA));
                assertNull(DLPackConsumer.check(positions, new DLPackConsumer.Expect(DLPack.KDL_CPU, 0,
                        DLPack.KDL_INT, 32, 0, new long[] {rows, len}, null), true), where);
                DLPackConsumer.delete(positions);   // a second call: a no-op
                step++;
            }
            assertEquals(2, step);
        }
        assertEquals(before, DLPack.liveExports(), "every export deleted, its arena closed");
    }

    /**
     * Closing the loader while a tensor is exported frees nothing until its deleter runs: the consumer (native
     * code the JVM cannot stop) still reads the batch's bytes after the close; then the deleter lets it go.
     */
    @ParameterizedTest
    @ValueSource(strings = {"java", "native"})
    void closingTheLoaderWaitsForTheLastDeleter(String backend) throws Exception {
        BatchPlan plan = BatchPlan.builder().samples(5).batchSize(3).lastBatch(LastBatch.PARTIAL).build();
        for (int round = 0; round < 3; round++) {
            try (SampleStore store = SampleStore.of(SEQUENCES)) {
                BatchLoader loader = BatchLoader.builder().store(store).plan(plan).padding(padding(true))
                        .backend(backend).build();
                MemorySegment data;
                byte[] want;
                try (Batch b = loader.epoch(0).next()) {
                    want = b.padded().data().toArray(ValueLayout.JAVA_BYTE);
                    data = b.toDLPack(Batch.Tensor.DATA);
                }
                loader.close();
                assertFalse(loader.awaitFreed(200), "freed while the consumer still holds a tensor");
                long address = data.get(ValueLayout.JAVA_LONG, 32);   // dl_tensor.data
                assertArrayEquals(want, MemorySegment.ofAddress(address).reinterpret(want.length)
                        .toArray(ValueLayout.JAVA_BYTE), "the exported bytes after the loader's close");
                DLPackConsumer.delete(data);
                assertTrue(loader.awaitFreed(10_000), "the last deleter frees the ring");
            }
        }
    }

    /** The slot returns once, after both the batch's close and every export's deleter, in either order. */
    @Test
    void theSlotReturnsOnceAfterCloseAndEveryDeleter() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            io.cubatch.collate.PaddedShape shape = new io.cubatch.collate.PaddedShape(2, 3, 1, 3, DType.INT32, false);
            io.cubatch.collate.PaddedBatch padded = io.cubatch.collate.PaddedBatch.allocate(shape, arena);
            io.cubatch.plan.PlannedBatch planned = BatchPlan.builder().samples(2).batchSize(2).build().batches(0)
                    .iterator().next();
            for (boolean closeFirst : new boolean[] {true, false}) {
                java.util.concurrent.atomic.AtomicInteger released = new java.util.concurrent.atomic.AtomicInteger();
                Batch b = new Batch(planned, padded, null, 2, null, 3, released::incrementAndGet, () -> false, -1);
                MemorySegment data = b.toDLPack(Batch.Tensor.DATA);
                MemorySegment mask = b.toDLPack(Batch.Tensor.ATTENTION_MASK);
                if (closeFirst) {
                    b.close();
                }
                DLPackConsumer.delete(data);
                DLPackConsumer.delete(data);   // a second call finds nothing
                assertEquals(0, released.get(), "one export is still live" + (closeFirst ? "" : ", and the batch open"));
                DLPackConsumer.delete(mask);
                assertEquals(closeFirst ? 1 : 0, released.get());
                b.close();
                b.close();
                assertEquals(1, released.get(), "the slot returns exactly once");
                assertThrows(IllegalStateException.class, () -> b.toDLPack(Batch.Tensor.LENGTHS));
                assertEquals(1, released.get(), "a refused export does not release the slot again");
            }
        }
    }

    @Test
    void storeValuesOfAMappedFileExportReadOnly() throws Exception {
        java.nio.file.Path f = java.nio.file.Files.createTempFile("dlpack", ".npy");
        try {
            try (SampleStore s = SampleStore.of(SEQUENCES)) {
                io.cubatch.store.DatasetWriter.write(s, f, io.cubatch.store.DatasetWriter.Target.NPY);
            }
            try (SampleStore s = io.cubatch.store.Datasets.open(f)) {
                boolean[] released = {false};
                MemorySegment t = DLPack.export(s.values().address(), DLPack.KDL_CPU, 0, s.dtype(),
                        new long[] {s.totalTimesteps()}, s.values().isReadOnly(), () -> released[0] = true, "values");
                assertNull(DLPackConsumer.check(t, new DLPackConsumer.Expect(DLPack.KDL_CPU, 0,
                        DLPack.KDL_INT, 32, DLPack.FLAG_READ_ONLY, new long[] {11}, s.values()), false));
                assertTrue(released[0]);
            }
        } finally {
            java.nio.file.Files.deleteIfExists(f);
            java.nio.file.Files.deleteIfExists(io.cubatch.store.DatasetWriter.offsetsOf(f));
        }
    }

    @Test
    void aFailingReleaseIsReportedNotThrownIntoNativeCode() {
        int before = DLPack.liveExports();
        MemorySegment t = DLPack.export(0, DLPack.KDL_CPU, 0, DType.FLOAT32, new long[] {0, 4}, false, () -> {
            throw new IllegalStateException("release failed on purpose");
        }, "empty");
        assertNull(DLPackConsumer.check(t, new DLPackConsumer.Expect(DLPack.KDL_CPU, 0, DLPack.KDL_FLOAT,
                32, 0, new long[] {0, 4}, null), true));
        assertEquals(before, DLPack.liveExports());
    }
}
