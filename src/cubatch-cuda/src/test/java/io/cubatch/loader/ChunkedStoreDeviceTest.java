package io.cubatch.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.PaddedBatch;
import io.cubatch.cuda.CudaTensors;
import io.cubatch.cuda.GpuTestSupport;
import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.LastBatch;
import io.cubatch.store.ArrowJsFixtures;
import io.cubatch.store.ArrowReader;
import io.cubatch.store.Datasets;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.util.Iterator;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A chunked store (an Arrow stream of several record batches, from Arrow JS) through the cuda backend: the
 * compact staging gathers each sample from its own record batch, and the device batches equal the java
 * backend's byte for byte; device-resident mode, which needs one contiguous buffer, refuses it by name.
 */
@Tag("gpu")
@ExtendWith(GpuTestSupport.class)
class ChunkedStoreDeviceTest {

    @Test
    void arrowRecordBatchesPadOnTheDeviceAsOnTheHost() throws Exception {
        BatchPlan plan = BatchPlan.builder().samples(9).batchSize(4).shuffle(3).lastBatch(LastBatch.PARTIAL).build();
        try (SampleStore store = Datasets.open(ArrowJsFixtures.dir().resolve("tokens.stream.arrow"),
                ArrowReader.Options.column("labels"));
             BatchLoader host = BatchLoader.builder().store(store).plan(plan).padding(DLPackTest.padding(true))
                     .backend("java").build();
             BatchLoader dev = BatchLoader.builder().store(store).plan(plan).padding(DLPackTest.padding(true))
                     .backend("cuda").device(0).build();
             Arena arena = Arena.ofConfined()) {
            assertFalse(store.isContiguous());
            Iterator<Batch> h = host.epoch(0);
            Iterator<Batch> d = dev.epoch(0);
            int steps = 0;
            while (h.hasNext()) {
                try (Batch hb = h.next(); Batch db = d.next()) {
                    PaddedBatch back = PaddedBatch.allocate(db.shape(), arena);
                    CudaTensors.of(db.deviceTensors()).copyTo(back);
                    assertEquals(-1, hb.padded().data().mismatch(back.data()), "data of step " + steps);
                    assertEquals(-1, hb.padded().lengths().mismatch(back.lengths()), "lengths of step " + steps);
                    assertEquals(-1, hb.padded().attentionMask().mismatch(back.attentionMask()), "mask of step " + steps);
                }
                steps++;
            }
            assertEquals(3, steps);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> BatchLoader.builder().store(store).plan(plan).padding(DLPackTest.padding(false))
                            .backend("cuda").device(0).residentOnDevice(1L << 20).build().close());
            assertTrue(e.getMessage().contains("is chunked (4 record batches served in place)"), e.getMessage());
        }
    }
}
