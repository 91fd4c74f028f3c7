package io.cubatch.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.Backends;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.Padding;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import jcuda.driver.CUstream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Ownership and error paths of the cuda backend that only the CUDA driver emulator can observe: how many
 * contexts the driver created, what is alive in it, and driver calls made to fail on purpose
 * ({@code CUDA_EMU_FAIL} / {@code cudaEmuFail}). Runs in the build's emulated executions (tag emu); on a real
 * GPU these are not run (bench/gpu-check.sh runs the gpu group).
 */
@Tag("emu")
@ExtendWith(GpuTestSupport.class)
class CudaEmulatorTest {

    @BeforeEach
    void onTheEmulator() {
        Assumptions.assumeTrue(CudaEmulator.present(), "not running on the CUDA driver emulator");
    }

    private static final Padding PADDING = Padding.builder().side(PadSide.POST).dtype(DType.INT32).build();

    /** The device registry retains each primary context once: collators by name do not recreate it. */
    @Test
    void theContextIsCreatedOncePerDeviceNotPerCollator() {
        try (Collator warm = Backends.create("cuda")) {
            assertEquals("cuda", warm.name());
        }
        long created = CudaEmulator.counters().contextCreations();
        long modules = CudaEmulator.counters().modules();
        try (SampleStore s = SampleStore.of(new int[][] {{1, 2, 3}, {4}})) {
            for (int i = 0; i < 50; i++) {
                try (CudaCollator c = (CudaCollator) Backends.create("cuda"); Arena a = Arena.ofConfined()) {
                    c.pad(s, new long[] {0, 1}, PADDING, PaddedBatch.allocate(c.shape(s, new long[] {0, 1}, PADDING), a));
                }
            }
        }
        assertEquals(created, CudaEmulator.counters().contextCreations(), "contexts created by 50 collators");
        assertEquals(modules, CudaEmulator.counters().modules(), "modules loaded by 50 collators");
    }

    /** Slots own their streams: closing the collator (and a loader's slot) destroys them; the context lives on. */
    @Test
    void aCollatorDestroysItsSlotsStreams() {
        long streams = CudaEmulator.counters().streams();
        try (CudaContext context = CudaContext.open(0); SampleStore s = SampleStore.of(new int[][] {{1, 2, 3}, {4}});
             Arena arena = Arena.ofConfined()) {
            CudaCollator c = new CudaCollator(context);
            assertEquals(streams, CudaEmulator.counters().streams(), "the collator's slot is made on first use");
            c.pad(s, new long[] {0, 1}, PADDING, PaddedBatch.allocate(c.shape(s, new long[] {0, 1}, PADDING), arena));
            assertEquals(streams + 1, CudaEmulator.counters().streams(), "one stream for its slot");
            try (CudaSlot slot = c.newSlot(null, 2, PADDING)) {
                c.fill(slot, s, new long[] {1}, PADDING);
                assertEquals(streams + 2, CudaEmulator.counters().streams(), "one stream per slot");
            }
            c.close();
            assertEquals(streams, CudaEmulator.counters().streams(), "stream left alive by a closed collator");
            assertEquals(0, context.openAllocations());
        }
    }

    /** A slot whose construction fails at any step frees what it made before throwing. */
    @Test
    void aSlotThatFailsMidwayFreesWhatItMade() {
        long live = CudaEmulator.counters().liveResources();
        String[][] failures = {{"cuStreamCreate", "1"}, {"cuEventCreate", "1"}, {"cuEventCreate", "3"},
            {"cuMemAlloc", "1"}};
        for (String[] f : failures) {
            CudaEmulator.fail(f[0], Integer.parseInt(f[1]), 0);
            try {
                CudaException e = assertThrows(CudaException.class, () -> new CudaSlot(0), f[0] + " #" + f[1]);
                assertTrue(e.getMessage().startsWith(f[0]), e.getMessage());
                assertEquals(live, CudaEmulator.counters().liveResources(), "left alive when " + f[0] + " #" + f[1]
                        + " failed");
            } finally {
                CudaEmulator.clearFailure(f[0]);
            }
        }
    }

    /** Closing a context with live children frees them and says what leaked, like Arrow's allocators. */
    @Test
    void closingAContextWithOpenAllocationsReportsThem() {
        long live = CudaEmulator.counters().liveResources();
        CudaContext context = CudaContext.open(0);
        context.allocate(100);
        CUstream s = context.newStream();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pinned = context.allocatePinned(4096, arena);
            assertEquals(live + 3, CudaEmulator.counters().liveResources());
            IllegalStateException e = assertThrows(IllegalStateException.class, context::close);
            assertTrue(e.getMessage().contains("1 device allocation(s) of 100 bytes, 1 pinned block(s) of 4096 bytes,"
                    + " 1 stream(s)"), e.getMessage());
            assertEquals(live + 1, CudaEmulator.counters().liveResources(), "freed: the allocation and the stream");
            pinned.set(ValueLayout.JAVA_BYTE, 4095, (byte) 1);   // still mapped: its Arena owns it
            assertTrue(context.isClosed());
            assertTrue(s != null);
        }
        assertEquals(live, CudaEmulator.counters().liveResources(), "the Arena freed the pinned block");
    }

    /** Pinned staging beyond 2 GiB (a direct ByteBuffer's limit) is one segment, usable to its last byte. */
    @Test
    void pinnedSlotsGrowPast2GiB() {
        try (CudaSlot slot = new CudaSlot(0)) {
            long bytes = 3L << 30;
            MemorySegment host = slot.host(bytes);
            assertTrue(host.byteSize() >= CudaSlot.HOST_HEADER + bytes, "segment of " + host.byteSize());
            host.set(ValueLayout.JAVA_BYTE, host.byteSize() - 1, (byte) 7);
            assertEquals(7, host.get(ValueLayout.JAVA_BYTE, host.byteSize() - 1));
            assertEquals(1, CudaEmulator.counters().pinnedBlocks(), "one pinned block");
        }
        assertEquals(0, CudaEmulator.counters().pinnedBlocks(), "the slot freed its pinned block");
    }

    /**
     * A slot is refilled only after its previous batch's device work, and after the consumer stream that was
     * given that batch ({@code closeAfter}) has finished with it: the consumer's copy of batch A must hold A's
     * bytes although batch B reused the slot before the consumer's stream ran.
     */
    @Test
    void aReusedSlotWaitsForTheConsumerOfItsLastBatch() {
        try (SampleStore s = SampleStore.of(new int[][] {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}, {13, 14, 15, 16}});
             CudaCollator cuda = CudaCollator.open(0); CudaSlot slot = new CudaSlot(0);
             Collator java = Backends.create("java"); Arena arena = Arena.ofConfined()) {
            cuda.context().makeCurrent();
            CUstream consumer = cuda.context().newStream();
            DeviceMemory copy = cuda.context().allocate(4 * 8);
            CudaTensors a = slot.enqueue(s, new long[] {0, 1}, PADDING);   // not waited for: still queued
            jcuda.driver.JCudaDriver.cuStreamWaitEvent(consumer, a.readyEvent(), 0);
            CudaException.check(jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync(copy.at(0), a.dataPointer(), 32,
                    consumer), "cuMemcpyDtoDAsync");
            a.releaseAfter(consumer);
            PaddedBatch b = PaddedBatch.allocate(java.shape(s, new long[] {2, 3}, PADDING), arena);
            slot.enqueue(s, new long[] {2, 3}, PADDING).copyTo(b);   // reuses the slot, runs its stream to the end
            cuda.context().makeCurrent();
            CudaException.check(jcuda.driver.JCudaDriver.cuStreamSynchronize(consumer), "cuStreamSynchronize");
            MemorySegment got = arena.allocate(32);
            CudaException.check(jcuda.driver.JCudaDriver.cuMemcpyDtoH(HostPointer.to(got), copy.at(0), 32), "cuMemcpyDtoH");
            assertEquals(1, got.getAtIndex(ValueLayout.JAVA_INT, 0), "the consumer's copy of batch A holds A's bytes");
            assertEquals(8, got.getAtIndex(ValueLayout.JAVA_INT, 7));
            assertEquals(9, b.data().getAtIndex(ValueLayout.JAVA_INT, 0));
            copy.close();
            cuda.context().destroyStream(consumer);
        }
    }

    /** After a failed launch or copy the collator goes on working, and nothing leaks. */
    @Test
    void driverFailuresMidBatchReturnTheSlot() {
        try (SampleStore s = SampleStore.of(new int[][] {{1, 2, 3}, {4}});
             CudaCollator cuda = CudaCollator.open(0); Collator java = Backends.create("java");
             Arena arena = Arena.ofConfined()) {
            for (String call : new String[] {"cuLaunchKernel", "cuMemcpyHtoDAsync", "cuEventRecord", "cuMemcpyDtoH"}) {
                CudaEmulator.fail(call, 1, 0);
                PaddedBatch out = PaddedBatch.allocate(java.shape(s, new long[] {0, 1}, PADDING), arena);
                CudaException e = assertThrows(CudaException.class, () -> cuda.pad(s, new long[] {0, 1}, PADDING, out),
                        call);
                assertTrue(e.getMessage().startsWith(call), e.getMessage());
                PaddedBatch expected = PaddedBatch.allocate(out.shape(), arena);
                java.pad(s, new long[] {0, 1}, PADDING, expected);
                cuda.pad(s, new long[] {0, 1}, PADDING, out);
                assertEquals(-1, expected.data().mismatch(out.data()), "after a failed " + call);
            }
        }
    }

    /** A resident dataset larger than the device's free memory is refused naming both sizes, before any copy. */
    @Test
    void aResidentDatasetOverTheFreeMemoryIsRefusedNamingBothSizes() {
        try (CudaContext context = CudaContext.open(0)) {
            long free = context.memoryInfo()[0];
            try (DeviceMemory hog = context.allocate(free - 4096); CudaCollator cuda = new CudaCollator(context);
                 SampleStore big = SampleStore.of(new int[2000][1])) {
                long left = context.memoryInfo()[0];
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> cuda.upload(big, Long.MAX_VALUE));
                // 2000 int32 values + 2001 int64 offsets
                assertTrue(e.getMessage().contains("needs 24008 bytes on the device, but device 0 has " + left
                        + " bytes free"), e.getMessage());
                assertTrue(hog.bytes() > 0);
            }
        }
    }

    /** A device that runs out of memory mid-run is the user's sizes: exit 2 with the reason, not an internal error. */
    @Test
    void runningOutOfDeviceMemoryIsExitCode2() {
        CudaEmulator.fail("cuMemAlloc", 3, 0);
        try {
            io.cubatch.cli.PlanCommandTestAccess.Result r = io.cubatch.cli.PlanCommandTestAccess.run("run", "--device", "0",
                    "--format", "json");
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains("CUDA_ERROR_OUT_OF_MEMORY"), r.err());
        } finally {
            CudaEmulator.clearFailure("cuMemAlloc");
        }
    }

    /** stats() of a closed device loader keeps its device figures; a cuda loader without .device(n) is on 0. */
    @Test
    void deviceStatsSurviveCloseAndNameTheDevice() {
        try (SampleStore store = SampleStore.of(new int[][] {{1, 2, 3}, {4}, {5, 6}, {7}})) {
            io.cubatch.plan.BatchPlan plan = io.cubatch.plan.BatchPlan.builder().samples(4).batchSize(2).build();
            io.cubatch.loader.BatchLoader loader = io.cubatch.loader.BatchLoader.builder().store(store).plan(plan)
                    .padding(PADDING).backend("cuda").prefetch(2).workers(1).build();
            java.util.Iterator<io.cubatch.loader.Batch> it = loader.epoch(0);
            while (it.hasNext()) {
                it.next().close();
            }
            io.cubatch.loader.LoaderStats open = loader.stats();
            assertEquals(0, open.device());
            loader.close();
            io.cubatch.loader.LoaderStats closed = loader.stats();
            assertEquals(open.statusBytes(), closed.statusBytes());
            assertEquals(32, closed.statusBytes());
            assertEquals(open.deviceMillisPerBatch(), closed.deviceMillisPerBatch());
            assertEquals(open.stagingBytes(), closed.stagingBytes());
        }
    }
}
