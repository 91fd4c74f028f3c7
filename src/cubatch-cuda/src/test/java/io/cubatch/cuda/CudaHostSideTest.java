package io.cubatch.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.Collation;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.Scatter;
import io.cubatch.cuda.internal.KernelArgs;
import io.cubatch.collate.internal.NativeLibrary;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.util.Optional;
import java.util.SplittableRandom;
import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend's host side, which needs no GPU: the encoding of the kernels' argument structs against
 * the C compiler's layout, output-area layout, error mapping, availability without a driver, budget
 * checks and the scatter shards.
 */
class CudaHostSideTest {

    private static void assertLayout(StructLayout layout, String[] fields, int which) throws Throwable {
        NativeLibrary lib = NativeLibrary.get().orElseThrow(() -> new AssertionError(
                "libcubatch must load where the build made it: " + NativeLibrary.unavailableReason()));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(8 * 32, 8);
            int n = (int) lib.structLayout.invokeExact(which, out, 32);
            assertEquals(fields.length + 1, n);
            assertEquals(out.getAtIndex(ValueLayout.JAVA_LONG, 0), layout.byteSize(), "sizeof");
            for (int i = 0; i < fields.length; i++) {
                assertEquals(out.getAtIndex(ValueLayout.JAVA_LONG, i + 1), KernelArgs.offset(layout, fields[i]),
                        "offset of " + fields[i]);
            }
        }
    }

    @Test
    void kernelArgumentStructsMatchTheCompilersLayout() throws Throwable {
        assertLayout(KernelArgs.PAD, KernelArgs.PAD_FIELDS, 0);
        assertLayout(KernelArgs.STACK, KernelArgs.STACK_FIELDS, 1);
        assertLayout(KernelArgs.PACK, KernelArgs.PACK_FIELDS, 2);
    }

    @Test
    void padArgumentsLandWhereTheKernelReadsThem() {
        byte[] b = KernelArgs.pad(0x1111, 5, 0x2222, 7, 3, 0, 9, 12, 10, 0, 2, 8, 0x3333, 0x4444, 0x5555, 0x6666, 0);
        MemorySegment s = MemorySegment.ofArray(b);
        assertEquals(128, b.length);
        assertEquals(0x1111, s.get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
        assertEquals(5, s.get(ValueLayout.JAVA_INT_UNALIGNED, 8));
        assertEquals(0x2222, s.get(ValueLayout.JAVA_LONG_UNALIGNED, 16));
        assertEquals(0, s.get(ValueLayout.JAVA_LONG_UNALIGNED, 40), "NULL indices");
        assertEquals(12, s.get(ValueLayout.JAVA_LONG_UNALIGNED, KernelArgs.offset(KernelArgs.PAD, "out_len")));
        assertEquals(2, s.get(ValueLayout.JAVA_INT_UNALIGNED, KernelArgs.offset(KernelArgs.PAD, "trunc_side")));
        assertEquals(8, s.get(ValueLayout.JAVA_INT_UNALIGNED, KernelArgs.offset(KernelArgs.PAD, "dst_dtype")));
        assertEquals(0x6666, s.get(ValueLayout.JAVA_LONG_UNALIGNED, KernelArgs.offset(KernelArgs.PAD, "mask")));
        assertEquals(0, s.get(ValueLayout.JAVA_LONG_UNALIGNED, KernelArgs.offset(KernelArgs.PAD, "positions")));
    }

    @Test
    void outputAreasAreAlignedAndDisjoint() {
        SplittableRandom rng = new SplittableRandom(5);
        for (int i = 0; i < 500; i++) {
            DType t = DType.values()[rng.nextInt(DType.values().length)];
            boolean pos = rng.nextBoolean();
            PaddedShape s = new PaddedShape(rng.nextInt(300), rng.nextInt(3000), 1 + rng.nextInt(4), 0, t, pos);
            long[] at = CudaSlot.outputLayout(s);
            long[] sizes = {s.dataBytes(), s.lengthsBytes(), s.maskBytes(), pos ? s.positionsBytes() : 0};
            long end = 0;
            for (int k = 0; k < 4; k++) {
                if (at[k] < 0) {
                    assertFalse(pos);
                    continue;
                }
                assertEquals(0, at[k] % 256, "area " + k + " aligned");
                assertTrue(at[k] >= end, "area " + k + " overlaps the one before");
                end = at[k] + sizes[k];
            }
            assertTrue(at[4] >= end, "total covers every area");
        }
    }

    @Test
    void wideStoresOnlyForBitCopiesOfWholeChunks() {
        assertTrue(CudaSlot.wideStores(DType.INT32, new PaddedShape(3, 8, 1, 8, DType.INT32, false)));
        assertFalse(CudaSlot.wideStores(DType.INT32, new PaddedShape(3, 7, 1, 7, DType.INT32, false)));
        assertFalse(CudaSlot.wideStores(DType.INT64, new PaddedShape(3, 8, 1, 8, DType.INT32, false)));
        assertTrue(CudaSlot.wideStores(DType.FLOAT16, new PaddedShape(3, 4, 2, 4, DType.FLOAT16, false)));
    }

    @Test
    void cudaErrorsNameTheCallTheErrorAndTheFix() {
        CudaException e = assertThrows(CudaException.class,
                () -> CudaException.check(CUresult.CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc(1024 bytes)"));
        assertTrue(e.isOutOfMemory());
        assertEquals("cuMemAlloc(1024 bytes)", e.call());
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
        assertTrue(e.getMessage().startsWith("cuMemAlloc(1024 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2)"), e.getMessage());
        assertTrue(e.getMessage().contains("cubatch probe"), e.getMessage());
        CudaException nb = new CudaException("cuModuleLoadData", CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU);
        assertFalse(nb.isOutOfMemory());
        assertTrue(nb.getMessage().contains("the jar's kernels have " + KernelArchitectures.packaged()
                .map(KernelArchitectures::describe).orElse("no recorded architecture list")), nb.getMessage());
        CudaException.check(CUresult.CUDA_SUCCESS, "cuInit");
    }

    @Test
    void withoutTheDriverTheBackendSaysWhyAndNothingThrows() {
        Cuda.Availability a = Cuda.probe(Optional.of("libcuda-cubatch-test-missing.so.1"));
        assertFalse(a.available());
        assertTrue(a.devices().isEmpty());
        if (Cuda.kernelsPackaged()) {
            assertTrue(a.reason().startsWith("libcuda-cubatch-test-missing.so.1 not found: no NVIDIA driver"),
                    a.reason());
        }
        Cuda.Availability here = Cuda.availability();   // the real verdict: must not throw, whatever the machine
        assertEquals(here.available(), here.reason().isEmpty());
        if (!here.available()) {
            System.out.println("cuda backend unavailable here: " + here.reason());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> CudaContext.open(0));
            assertEquals("the cuda backend is unavailable: " + here.reason(), e.getMessage());
            assertThrows(IllegalStateException.class, () -> CudaCollator.open(0));
            assertEquals(here, Cuda.availability(), "the verdict is stable");
        }
    }

    @Test
    void rowGridGivesEachRowItsBlocksWithinEightBlocksPerMultiprocessor() {
        assertArrayEquals(new int[] {1, 1}, CudaContext.rowGrid(0, 0, 132), "never an empty grid");
        assertArrayEquals(new int[] {1, 1}, CudaContext.rowGrid(1, 256, 132));
        assertArrayEquals(new int[] {2, 1}, CudaContext.rowGrid(1, 257, 132));
        assertArrayEquals(new int[] {8 * 132, 1}, CudaContext.rowGrid(1, 1L << 40, 132), "one long row");
        assertArrayEquals(new int[] {132, 8}, CudaContext.rowGrid(8, 1L << 20, 132), "8 rows share the budget");
        assertArrayEquals(new int[] {1, 1024}, CudaContext.rowGrid(1024, 2048, 132), "a block per row");
        assertArrayEquals(new int[] {1, 65535}, CudaContext.rowGrid(1L << 40, 4096, 132), "rows past 65535 stride");
    }

    @Test
    void residentBudgetNamesBothSizes() {
        SampleStore store = SampleStore.of(new int[][] {{1, 2, 3}, {4}, {}});
        assertEquals(4 * 4 + 8 * 4, DeviceStore.bytesNeeded(store));
        DeviceStore.checkBudget(store, 48);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceStore.checkBudget(store, 47));
        assertTrue(e.getMessage().contains("needs 48 bytes") && e.getMessage().contains("budget of 47 bytes"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DeviceStore.checkBudget(store, -1));
    }

    @Test
    void batchBytesSaturateInsteadOfOverflowing() {
        assertEquals(2 * 10 * 4 + 2 * 4 + 2 * 10 + 2 * 10 * 4, MemoryProbe.batchBytes(2, 10, 1, DType.INT32, true));
        assertEquals(Long.MAX_VALUE, MemoryProbe.batchBytes(1L << 40, 1 << 20, 1, DType.INT64, false));
        assertEquals(Long.MAX_VALUE, MemoryProbe.batchBytes(Integer.MAX_VALUE, Long.MAX_VALUE / 4, 1, DType.INT64, false));
    }

    @Test
    void compactLayoutHoldsOnlyTheKeptTokens() {
        SampleStore store = SampleStore.of(new int[][] {{1, 2, 3, 4, 5}, {6}, {}, {7, 8}});
        Padding padding = Padding.builder().side(PadSide.POST).dtype(DType.INT32).maxlen(3).truncation(PadSide.PRE)
                .build();
        long[] indices = {0, 2, 3, 0};
        PaddedShape shape = Collation.shape(store, indices, padding);
        CompactLayout layout = CompactLayout.of(store, indices, padding, shape);
        assertEquals(3 + 0 + 2 + 3, layout.timesteps());
        assertEquals(8 * 5 + 4 * 8, layout.bytes(), "offsets (B + 1) x 8 + kept tokens x 4, nothing else");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment into = arena.allocate(layout.bytes());
            layout.write(store, into);
            assertArrayEquals(new long[] {0, 3, 3, 5, 8}, into.asSlice(0, 40).toArray(ValueLayout.JAVA_LONG));
            assertArrayEquals(new int[] {3, 4, 5, 7, 8, 3, 4, 5}, into.asSlice(40).toArray(ValueLayout.JAVA_INT));
            assertThrows(IllegalArgumentException.class, () -> layout.write(store, into.asSlice(1)));
        }
    }
}
