package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Packing ({@link Collator#fillPacked}) writes the same bytes on every backend present: the java reference
 * (HostPacking), native (libcubatch's cb_pack, the CPU twin of cb_pack_kernel) and, under the CUDA driver
 * emulator or on a GPU, cuda (cb_pack_kernel): data, mask, positions, per-sequence lengths, cu_seqlens and
 * max_seqlen, or the same error, for random stores over every dtype pair and both truncation sides.
 */
@Tag("backends")
class PackingEquivalenceTest {

    /** Everything a packed batch holds, as host bytes. */
    private record Packed(byte[] data, byte[] mask, byte[] positions, byte[] lengths, byte[] cu, int max) {
    }

    private static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    private static Packed pack(Collator c, SampleStore store, long[] indices, Padding padding, Arena arena) {
        PaddedShape largest = new PaddedShape(indices.length, padding.maxlen().orElseThrow(), Math.max(1, store.features()),
                padding.maxlen().orElseThrow(), padding.dtype(), padding.positions());
        try (BatchSlot slot = c.newSlot(largest, indices.length, padding)) {
            FilledBatch f = c.fillPacked(slot, store, indices, padding);
            PackLayout layout = f.packing().orElseThrow().layout();
            int seqs = layout.sequences();
            if (f.host().isPresent()) {
                PaddedBatch b = f.host().get();
                return new Packed(bytes(b.data()), bytes(b.attentionMask()),
                        padding.positions() ? bytes(b.positions()) : new byte[0], bytes(b.lengths()),
                        bytes(f.packing().get().hostCuSeqlens().orElseThrow()), layout.maxSeqlen());
            }
            io.cubatch.cuda.CudaTensors t = io.cubatch.cuda.CudaTensors.of(f.device().orElseThrow());
            PaddedShape s = f.shape();
            MemorySegment data = arena.allocate(Math.max(1, s.dataBytes()));
            MemorySegment mask = arena.allocate(Math.max(1, s.maskBytes()));
            MemorySegment pos = arena.allocate(Math.max(1, s.positionsBytes()));
            MemorySegment lengths = arena.allocate(4L * seqs);
            MemorySegment cu = arena.allocate(4L * (seqs + 1));
            MemorySegment max = arena.allocate(4);
            t.copyToHost(t.data(), data.asSlice(0, s.dataBytes()));
            t.copyToHost(t.attentionMask(), mask.asSlice(0, s.maskBytes()));
            if (padding.positions()) {
                t.copyToHost(t.positions(), pos.asSlice(0, s.positionsBytes()));
            }
            t.copyToHost(t.lengths(), lengths);
            t.copyToHost(t.cuSeqlens(), cu);
            t.copyToHost(t.maxSeqlen(), max);
            return new Packed(bytes(data.asSlice(0, s.dataBytes())), bytes(mask.asSlice(0, s.maskBytes())),
                    padding.positions() ? bytes(pos.asSlice(0, s.positionsBytes())) : new byte[0], bytes(lengths),
                    bytes(cu), max.get(ValueLayout.JAVA_INT, 0));
        }
    }

    @Test
    void everyBackendPacksTheSameBytes() {
        SplittableRandom rng = new SplittableRandom(20261202);
        DType[] types = DType.values();
        List<String> backends = CollateTestSupport.availableBackends();
        int compared = 0;
        int errors = 0;
        try (Arena arena = Arena.ofShared()) {
            for (int trial = 0; trial < 120; trial++) {
                DType src = types[rng.nextInt(types.length)];
                DType dst = rng.nextInt(3) == 0 ? src : types[rng.nextInt(types.length)];
                if (dst == DType.BOOL && src != DType.BOOL) {
                    dst = DType.INT8;
                }
                SampleStore store = CollateTestSupport.randomStore(rng, arena, src, 1 + rng.nextInt(20), rng.nextInt(25),
                        rng.nextInt(4) == 0 ? 1 + rng.nextInt(3) : 1, rng.nextInt(4) > 0);
                long[] indices = rng.longs(1 + rng.nextInt(9), 0, store.size()).toArray();
                Padding padding = Padding.builder().side(PadSide.POST).dtype(dst).positions(rng.nextBoolean())
                        .maxlen(1 + rng.nextInt(30)).truncation(rng.nextBoolean() ? PadSide.PRE : PadSide.POST)
                        .value(rng.nextInt(2)).build();
                Packed reference = null;
                String error = null;
                try (Collator java = Backends.create("java")) {
                    reference = pack(java, store, indices, padding, arena);
                } catch (CollateException e) {
                    error = e.getMessage();
                }
                for (String name : backends) {
                    try (Collator c = Backends.create(name)) {
                        String what = "trial " + trial + " " + name + " " + src + "->" + dst;
                        if (error != null) {
                            CollateException e = assertThrows(CollateException.class,
                                    () -> pack(c, store, indices, padding, arena), what);
                            assertEquals(error, e.getMessage(), what);
                            continue;
                        }
                        Packed got = pack(c, store, indices, padding, arena);
                        assertTrue(java.util.Arrays.equals(reference.data(), got.data()), what + ": data");
                        assertTrue(java.util.Arrays.equals(reference.mask(), got.mask()), what + ": mask");
                        assertTrue(java.util.Arrays.equals(reference.positions(), got.positions()), what + ": positions");
                        assertTrue(java.util.Arrays.equals(reference.lengths(), got.lengths()), what + ": lengths");
                        assertTrue(java.util.Arrays.equals(reference.cu(), got.cu()), what + ": cu_seqlens");
                        assertEquals(reference.max(), got.max(), what + ": max_seqlen");
                    }
                }
                if (error == null) {
                    compared++;
                } else {
                    errors++;
                }
            }
        }
        assertTrue(backends.contains("native"), "libcubatch must be present: " + backends);
        assertTrue(compared > 60 && errors > 5, compared + " packed batches compared, " + errors + " errors");
    }
}
