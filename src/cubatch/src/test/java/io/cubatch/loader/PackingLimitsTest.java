package io.cubatch.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cubatch.collate.CollateException;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PackLayout;
import io.cubatch.collate.Padding;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * cu_seqlens are int32 offsets (FlashAttention's varlen API): a packed batch of more than 2^31 - 1 real
 * timesteps would wrap them, as lengths and positions did before (issue 14, item 3). Sequences and the
 * slot are read-only views of a sparse file, so a write, the failure this refuses, shows as an exception,
 * and nothing of 3 GiB is allocated.
 */
class PackingLimitsTest {

    @Test
    void packedBatchesPastInt32OffsetsAreRefusedBeforeAnyWrite(@TempDir Path dir) throws IOException {
        long seq = 1L << 30;
        Path f = dir.resolve("sparse.bin");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(4 * seq);
        }
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(f)) {
            MemorySegment zeros = ch.map(FileChannel.MapMode.READ_ONLY, 0, 4 * seq, arena);
            SampleStore store = SampleStore.wrapRagged(DType.INT8, new long[0], zeros,
                    arena.allocateFrom(ValueLayout.JAVA_LONG, 0, seq, 2 * seq, 3 * seq));
            Padding padding = Padding.builder().side(PadSide.POST).maxlen(seq).dtype(DType.INT8).build();
            // the layout every backend packs by refuses it, before any backend writes a byte
            CollateException e = assertThrows(CollateException.class,
                    () -> PackLayout.of(store, new long[] {0, 1, 2}, padding));
            assertEquals("a packed batch of 3 sequences holds 3221225472 real timesteps, more than 2147483647, the largest"
                    + " offset int32 cu_seqlens can hold: pack fewer sequences per batch or lower maxlen", e.getMessage());
        } finally {
            Files.deleteIfExists(f);
        }
    }
}
